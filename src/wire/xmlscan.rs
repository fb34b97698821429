//! A forgiving reader for the small XML answers of Autodiscover and EWS: every element's
//! local-name path with its text and attributes, namespaces ignored.
//!
//! Good for pulling a few known fields out of a response; it must not be used where document
//! structure matters (WS-Man and CLIXML have their own codec).

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// Deepest nesting accepted.
const MAX_DEPTH: usize = 64;

/// The scanned document.
#[derive(Debug, Default)]
pub struct Scanned {
    /// `(path of local names joined by '/', trimmed text)` of every element with text.
    pub texts: Vec<(String, String)>,
    /// `(local name, attributes)` of every element, in order.
    pub elements: Vec<(String, Vec<(String, String)>)>,
}

impl Scanned {
    /// Text of the first element whose path ends with `suffix`, e.g. `Protocol/EwsUrl`.
    pub fn text(&self, suffix: &str) -> Option<&str> {
        self.texts
            .iter()
            .find(|(p, _)| ends_with_path(p, suffix))
            .map(|(_, t)| t.as_str())
    }
    /// Texts of every element whose path ends with `suffix`.
    pub fn all_texts<'a>(&'a self, suffix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.texts
            .iter()
            .filter(move |(p, _)| ends_with_path(p, suffix))
            .map(|(_, t)| t.as_str())
    }
    /// An attribute of the first element with this local name that has it.
    pub fn attr(&self, element: &str, name: &str) -> Option<&str> {
        self.elements
            .iter()
            .filter(|(e, _)| e == element)
            .flat_map(|(_, a)| a.iter())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn has(&self, element: &str) -> bool {
        self.elements.iter().any(|(e, _)| e == element)
    }
}

fn ends_with_path(path: &str, suffix: &str) -> bool {
    path == suffix || path.ends_with(&format!("/{suffix}"))
}

fn attrs(s: &BytesStart<'_>) -> Vec<(String, String)> {
    s.attributes()
        .flatten()
        .map(|a| {
            (
                a.key.local_name().into_inner().to_string(),
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map(|v| v.into_owned())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

/// Scan `body`; `None` when it is not well-formed UTF-8 XML.
pub fn scan(body: &[u8]) -> Option<Scanned> {
    let text = std::str::from_utf8(body).ok()?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut path: Vec<String> = Vec::new();
    let mut out = Scanned::default();
    let mut current = String::new();
    loop {
        match reader.read_event().ok()? {
            Event::Start(s) => {
                if path.len() >= MAX_DEPTH {
                    return None;
                }
                let name = s.local_name().into_inner().to_string();
                out.elements.push((name.clone(), attrs(&s)));
                path.push(name);
                current.clear();
            }
            Event::Empty(s) => {
                let name = s.local_name().into_inner().to_string();
                out.elements.push((name, attrs(&s)));
            }
            Event::Text(t) => current.push_str(&quick_xml::escape::unescape(&t[..]).ok()?),
            Event::GeneralRef(r) => {
                current.push_str(&quick_xml::escape::unescape(&format!("&{};", &r[..])).ok()?)
            }
            Event::CData(c) => current.push_str(&c[..]),
            Event::End(_) => {
                if !current.trim().is_empty() {
                    out.texts.push((path.join("/"), current.trim().to_string()));
                }
                current.clear();
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !path.is_empty() {
        return None;
    }
    Some(out)
}

/// Escape text for an XML element or attribute.
pub fn esc(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn scans_paths_texts_and_attributes() {
        let s = scan(b"\xef\xbb\xbf<a:Root xmlns:a=\"x\"><a:B k=\"v&amp;w\">t &lt; 1</a:B><C/><B>second</B></a:Root>").unwrap();
        assert_eq!(s.text("Root/B"), Some("t < 1"));
        assert_eq!(s.text("B"), Some("t < 1"));
        assert_eq!(
            s.all_texts("B").collect::<Vec<_>>(),
            vec!["t < 1", "second"]
        );
        assert_eq!(s.attr("B", "k"), Some("v&w"));
        assert!(s.has("C"));
        assert!(scan(b"<a><b></a>").is_none());
        assert!(scan(b"<a>").is_none());
        assert!(scan("<a>".repeat(100).as_bytes()).is_none());
    }
}
