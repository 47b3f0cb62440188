//! What a run leaves behind for people and tools: the history as JSON lines, latency and rate
//! plots with the nemesis periods shaded, and a timeline page.

pub mod jsonl;
pub mod plot;
pub mod timeline;
