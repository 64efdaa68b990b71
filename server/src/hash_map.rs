//! The hash map of the gateway's in-memory state (routing, caches, rollups): std's, with
//! foldhash's seeded hasher instead of SipHash. Every request looks up and updates several of
//! these by short strings (model ids, slugs, key hashes), and SipHash was about 2 % of a
//! request's instructions. Each map draws its own random seed, so keys a client chooses (a
//! slug) cannot be picked in advance to collide.
pub type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
