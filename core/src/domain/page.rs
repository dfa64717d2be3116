//! Page sizes of list queries: what a client may ask for, decided once for every list.

use super::error::Invalid;

/// The code of a refused page size.
pub const INVALID_LIMIT: &str = "invalid_limit";

/// The page sizes one list allows: `1..=max`, `default` when the client names none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageBounds {
    /// The size of a page when the client names none.
    pub default: usize,
    /// The largest page a client may ask for.
    pub max: usize,
}

/// How many items a page holds, within its list's bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageLimit(usize);

impl PageLimit {
    /// The client's `limit`, or the default when it gave none. Zero and sizes over the maximum
    /// are refused rather than clamped: a client that asked for 500 and silently got 100 has a
    /// bug it never hears about, and `limit=0` has no page to answer with.
    pub fn parse(requested: Option<usize>, bounds: PageBounds) -> Result<Self, Invalid> {
        match requested {
            None => Ok(PageLimit(bounds.default)),
            Some(limit) if (1..=bounds.max).contains(&limit) => Ok(PageLimit(limit)),
            Some(limit) => {
                Err(Invalid::new(INVALID_LIMIT, format!("limit must be between 1 and {} (got {limit})", bounds.max)))
            }
        }
    }

    /// The number of items.
    pub fn get(self) -> usize {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BOUNDS: PageBounds = PageBounds { default: 50, max: 100 };

    #[test]
    fn missing_limit_is_the_default_and_the_range_is_inclusive() {
        assert_eq!(PageLimit::parse(None, BOUNDS).map(PageLimit::get), Ok(50));
        assert_eq!(PageLimit::parse(Some(1), BOUNDS).map(PageLimit::get), Ok(1));
        assert_eq!(PageLimit::parse(Some(100), BOUNDS).map(PageLimit::get), Ok(100));
        let refused = PageLimit::parse(Some(0), BOUNDS).unwrap_err();
        assert_eq!(refused.code, INVALID_LIMIT);
        assert_eq!(refused.message, "limit must be between 1 and 100 (got 0)");
        assert_eq!(PageLimit::parse(Some(101), BOUNDS).map_err(|e| e.code), Err(INVALID_LIMIT));
    }

    proptest! {
        #[test]
        fn a_limit_is_accepted_exactly_when_it_is_in_range(limit in any::<usize>(), max in 1usize..1000) {
            let bounds = PageBounds { default: max, max };
            let parsed = PageLimit::parse(Some(limit), bounds);
            prop_assert_eq!(parsed.is_ok(), (1..=max).contains(&limit));
            if let Ok(accepted) = parsed {
                prop_assert_eq!(accepted.get(), limit);
            }
        }
    }
}
