//! The claim-store contract: every `ClaimStore` (memory, Redis) behaves so.
