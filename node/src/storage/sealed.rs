//! Placeholder: sealed (checksummed) records (being written).
