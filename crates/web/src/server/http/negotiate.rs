//! Content negotiation: [`negotiate`] picks the offered media type an `Accept` header prefers.
//!
//! Layer: apps (part of [`http`](super)).

/// The best of `offered` (media types, in the server's order of preference) for an `Accept`
/// header: `None` when the header accepts none of them. No header, or an empty one, accepts
/// anything (the first offered). Between equal q-values, the more specific range wins, then
/// the one the client listed first, then the server's order.
///
/// ```
/// use greenfetch_web::server::http::negotiate;
/// let offered = ["text/plain", "application/json"];
/// assert_eq!(negotiate(None, &offered), Some("text/plain"));
/// assert_eq!(negotiate(Some("application/json"), &offered), Some("application/json"));
/// assert_eq!(negotiate(Some("text/*;q=0.5, application/json;q=0.9"), &offered), Some("application/json"));
/// assert_eq!(negotiate(Some("*/*"), &offered), Some("text/plain"));
/// assert_eq!(negotiate(Some("image/png"), &offered), None);
/// assert_eq!(negotiate(Some("application/json;q=0, */*"), &offered), Some("text/plain"));
/// ```
pub fn negotiate<'a>(accept: Option<&str>, offered: &[&'a str]) -> Option<&'a str> {
    let accept = accept.map(str::trim).unwrap_or("");
    if accept.is_empty() {
        return offered.first().copied();
    }
    // Each range: (type, subtype, q in thousandths, position).
    let ranges: Vec<(&str, &str, u32, usize)> = accept
        .split(',')
        .enumerate()
        .filter_map(|(pos, part)| {
            let mut params = part.split(';');
            let (t, s) = params.next()?.trim().split_once('/')?;
            let mut q = 1000;
            for p in params {
                if let Some((k, v)) = p.split_once('=') {
                    if k.trim().eq_ignore_ascii_case("q") {
                        q = v
                            .trim()
                            .parse::<f32>()
                            .map_or(0, |q| (q.clamp(0.0, 1.0) * 1000.0) as u32);
                    }
                }
            }
            Some((t.trim(), s.trim(), q, pos))
        })
        .collect();
    let mut best: Option<(&'a str, (u32, u8, usize))> = None;
    for &media in offered {
        let Some((mt, ms)) = media.split_once('/') else {
            continue;
        };
        // The most specific matching range decides this type's q.
        let matched = ranges
            .iter()
            .filter_map(|&(t, s, q, pos)| {
                let specificity = if t.eq_ignore_ascii_case(mt) && s.eq_ignore_ascii_case(ms) {
                    2
                } else if t.eq_ignore_ascii_case(mt) && s == "*" {
                    1
                } else if t == "*" && s == "*" {
                    0
                } else {
                    return None;
                };
                Some((specificity, q, pos))
            })
            .max_by_key(|&(specificity, _, pos)| (specificity, std::cmp::Reverse(pos)));
        let Some((specificity, q, pos)) = matched else {
            continue;
        };
        if q == 0 {
            continue;
        }
        // Higher q, then more specific, then listed earlier by the client, then our order.
        let key = (q, specificity, usize::MAX - pos);
        let better = match best {
            None => true,
            Some((_, k)) => (key.0, key.1, key.2) > (k.0, k.1, k.2),
        };
        if better {
            best = Some((media, key));
        }
    }
    best.map(|(m, _)| m)
}

/// Whether the server's own error answers should be JSON for this `Accept`.
pub(super) fn wants_json(accept: Option<&str>) -> bool {
    negotiate(accept, &["text/plain", "application/json"]) == Some("application/json")
}
