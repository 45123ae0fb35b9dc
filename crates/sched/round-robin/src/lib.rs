//! TODO crate doc.
#![cfg_attr(not(test), no_std)]
