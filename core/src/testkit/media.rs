//! The media-repo contract: every `MediaRepo` (memory, Postgres) behaves so.
