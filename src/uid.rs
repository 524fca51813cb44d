//! An object's uid as the key of what is kept per object: 16 bytes in place, where the uid's
//! text (36 characters) took a 48-byte allocation and 24 bytes more in every map, for each of
//! the several maps that hold every object.

use std::hash::{DefaultHasher, Hash, Hasher};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Uid(u128);

impl Uid {
    /// Kubernetes' uids are UUIDs; anything else (an object read from a file has none) is
    /// hashed, into a value no UUID of a known version has (the top 64 bits 0).
    pub fn of(uid: &str) -> Uid {
        match uuid::Uuid::try_parse(uid) {
            Ok(u) => Uid(u.as_u128()),
            Err(_) => {
                let mut hasher = DefaultHasher::new();
                uid.hash(&mut hasher);
                Uid(u128::from(hasher.finish()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Uid;

    #[test]
    fn the_same_uid_is_the_same_key_and_others_are_not() {
        let a = "834025bf-53d7-49a4-8c15-5759335498ea";
        assert_eq!(Uid::of(a), Uid::of(&a.to_uppercase()));
        assert_ne!(Uid::of(a), Uid::of("934025bf-53d7-49a4-8c15-5759335498ea"));
        assert_eq!(Uid::of("u1"), Uid::of("u1"));
        assert_ne!(Uid::of("u1"), Uid::of("u2"));
        assert_ne!(Uid::of(""), Uid::of("u1"));
    }
}
