//! Reports of finished searches.
