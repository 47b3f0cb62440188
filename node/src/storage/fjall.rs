//! Placeholder: the fjall engine (being written).
