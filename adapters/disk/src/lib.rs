//! Embedded-mode blob store (work in progress).
