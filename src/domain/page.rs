//! `PageRequest`: validated AIP-158 pagination (page size and opaque page token).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::error::{Error, FieldReason, Result};

const DEFAULT_PAGE_SIZE: u64 = 50;
const MAX_PAGE_SIZE: u64 = 100;
const CURSOR_PREFIX: &str = "after:";

/// A validated `page_size` / `page_token` pair (AIP-158). The token is an opaque cursor: the id of
/// the last item of the previous page, so pages stay stable while rows are added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub size: u64,
    /// Return items strictly after this id in the list's order.
    pub after: Option<String>,
}

impl PageRequest {
    pub fn parse(page_size: i32, page_token: &str) -> Result<Self> {
        let size = match page_size {
            0 => DEFAULT_PAGE_SIZE,
            n if n < 0 => {
                return Err(Error::field("page_size", FieldReason::InvalidPageSize, "page_size must not be negative"));
            }
            // AIP-158: values above the maximum are coerced down, not refused.
            n => u64::try_from(n).unwrap_or(MAX_PAGE_SIZE).min(MAX_PAGE_SIZE),
        };
        let after = if page_token.is_empty() { None } else { Some(decode_page_token(page_token)?) };
        Ok(Self { size, after })
    }
}

impl PageRequest {
    /// How many items to fetch: one more than the page, to learn whether another page follows.
    pub fn fetch_limit(&self) -> u64 {
        self.size + 1
    }

    /// Cuts what `fetch_limit` fetched down to the page, and makes the next page's token from the
    /// last item kept when more followed.
    pub fn finish<T>(&self, mut items: Vec<T>, id: impl Fn(&T) -> &str) -> (Vec<T>, Option<String>) {
        let size = usize::try_from(self.size).unwrap_or(usize::MAX);
        if items.len() <= size {
            return (items, None);
        }
        items.truncate(size);
        let next = items.last().map(|last| encode_page_token(id(last)));
        (items, next)
    }
}

/// Builds the `next_page_token` that resumes after the item with `last_id`.
fn encode_page_token(last_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{last_id}"))
}

fn decode_page_token(token: &str) -> Result<String> {
    let invalid =
        || Error::field("page_token", FieldReason::InvalidPageToken, "page_token is not one this server issued");
    if token.len() > 256 {
        return Err(invalid());
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    text.strip_prefix(CURSOR_PREFIX).filter(|id| !id.is_empty()).map(str::to_owned).ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_bounds() {
        let page = PageRequest::parse(500, &encode_page_token("abc")).unwrap();
        assert_eq!(page, PageRequest { size: MAX_PAGE_SIZE, after: Some("abc".into()) });
        assert_eq!(PageRequest::parse(0, "").unwrap().size, DEFAULT_PAGE_SIZE);
        assert!(PageRequest::parse(-1, "").is_err());
        assert!(PageRequest::parse(10, "garbage!").is_err());
        assert!(PageRequest::parse(10, &URL_SAFE_NO_PAD.encode("before:x")).is_err());
    }

    #[test]
    fn finish_cuts_the_extra_item_and_points_after_the_last_kept() {
        let page = PageRequest::parse(2, "").unwrap();
        assert_eq!(page.fetch_limit(), 3);
        let (items, next) = page.finish(vec!["c", "b", "a"], |s| s);
        assert_eq!((items, next), (vec!["c", "b"], Some(encode_page_token("b"))));
        let (items, next) = page.finish(vec!["b", "a"], |s| s);
        assert_eq!((items, next), (vec!["b", "a"], None));
    }
}
