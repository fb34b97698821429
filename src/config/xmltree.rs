//! A small, lossless XML tree for the configuration file.
//!
//! It exists so that a rewrite by the program keeps everything an admin put in the file:
//! unknown elements, comments, attributes and whitespace stay where they were, and only the
//! text of the elements the program owns changes. Every element remembers the byte offset it
//! started at, so errors can name a line and column. It must not interpret the configuration
//! (that is `model`'s job) and must never resolve external entities or DTDs.

use quick_xml::escape::{escape, unescape};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// Deepest element nesting accepted; the config is a few levels deep, so this only stops
/// hostile or corrupted files from exhausting the stack.
const MAX_DEPTH: usize = 64;

/// One node of the tree, in document order.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Element(Element),
    /// Character data, already unescaped.
    Text(String),
    /// A comment body (between `<!--` and `-->`), verbatim.
    Comment(String),
    /// A CDATA section body, verbatim.
    CData(String),
}

/// An element with its attributes (raw, as written) and children.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    pub name: String,
    /// Attributes as written in the source (already escaped), e.g. ` a="1"`; kept verbatim.
    pub raw_attrs: String,
    pub children: Vec<Node>,
    /// Byte offset of the `<` that opened this element; `None` for elements the program added.
    pub offset: Option<usize>,
}

/// A whole document: what stands before the root (declaration, comments), the root element,
/// and what stands after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Raw text before the root element (XML declaration, comments, whitespace).
    pub prolog: String,
    pub root: Element,
    /// Raw text after the root element.
    pub epilog: String,
    /// The source text, kept to turn byte offsets into line/column pairs.
    source: String,
}

/// Why a document could not be read. Positions are 1-based.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}, column {column}{}: {reason}", element_suffix(.element))]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    /// The path of the innermost element open at the error, e.g. `ConnectorServiceConfiguration/Proxy`.
    pub element: Option<String>,
    pub reason: String,
}

fn element_suffix(element: &Option<String>) -> String {
    match element {
        Some(e) => format!(" (inside <{e}>)"),
        None => String::new(),
    }
}

/// 1-based line and column of a byte offset in `text` (columns count characters).
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let mut line = 1;
    let mut line_start = 0;
    for (i, b) in text.bytes().enumerate().take(offset) {
        if b == b'\n' {
            line += 1;
            line_start = i + 1;
        }
    }
    let column = text
        .get(line_start..offset)
        .map(|s| s.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

impl Element {
    /// A new element with no attributes and no children.
    pub fn new(name: &str) -> Self {
        Element {
            name: name.to_string(),
            raw_attrs: String::new(),
            children: Vec::new(),
            offset: None,
        }
    }

    /// Child elements, in order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// All child elements with this name.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements().filter(move |e| e.name == name)
    }

    /// The first child element with this name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    fn child_index(&self, name: &str) -> Option<usize> {
        self.children
            .iter()
            .position(|n| matches!(n, Node::Element(e) if e.name == name))
    }

    /// The element's text: its text and CDATA children joined, without child elements.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for n in &self.children {
            match n {
                Node::Text(t) | Node::CData(t) => out.push_str(t),
                _ => {}
            }
        }
        out
    }

    /// Whether the element holds child elements (then it is a section, not a value).
    pub fn has_element_children(&self) -> bool {
        self.elements().next().is_some()
    }

    /// Replace the element's text, keeping comments; child elements are left alone.
    pub fn set_text(&mut self, value: &str) {
        if self.text() == value {
            return;
        }
        self.children
            .retain(|n| !matches!(n, Node::Text(_) | Node::CData(_)));
        if !value.is_empty() {
            self.children.insert(0, Node::Text(value.to_string()));
        }
    }

    /// The child named `name`, created when missing. A new child is placed after the last
    /// existing sibling whose name appears before `name` in `order` (the canonical order of
    /// known elements), so that unknown elements keep their places; indentation is copied
    /// from the existing children.
    pub fn child_mut_or_insert(
        &mut self,
        name: &str,
        order: &[&str],
        depth: usize,
    ) -> &mut Element {
        if let Some(i) = self.child_index(name) {
            match &mut self.children[i] {
                Node::Element(e) => return e,
                _ => unreachable!("child_index only returns element positions"),
            }
        }
        let rank = order.iter().position(|n| *n == name);
        // Position of the last child element that canonically comes before `name`.
        let mut after: Option<usize> = None;
        if let Some(rank) = rank {
            for (i, n) in self.children.iter().enumerate() {
                if let Node::Element(e) = n {
                    if let Some(r) = order.iter().position(|o| *o == e.name) {
                        if r < rank {
                            after = Some(i);
                        }
                    }
                }
            }
        }
        let indent = format!("\n{}", "  ".repeat(depth + 1));
        let pretty = self.children.is_empty()
            || self
                .children
                .iter()
                .any(|n| matches!(n, Node::Text(t) if t.trim().is_empty() && t.contains('\n')));
        let insert_at = match after {
            Some(i) => i + 1,
            None => {
                // Before the first element child (after the leading whitespace), or at the end.
                match self
                    .children
                    .iter()
                    .position(|n| matches!(n, Node::Element(_)))
                {
                    Some(first) => first,
                    None => self.children.len(),
                }
            }
        };
        let closing_needed = self.children.is_empty();
        let mut new_nodes = Vec::new();
        let mut elem_pos = insert_at;
        if pretty {
            if after.is_some() || insert_at == self.children.len() {
                new_nodes.push(Node::Text(indent.clone()));
                elem_pos += 1;
                new_nodes.push(Node::Element(Element::new(name)));
            } else {
                // Inserted before an existing first element: the whitespace before that element
                // now precedes the new one, so add the same indentation after the new one.
                new_nodes.push(Node::Element(Element::new(name)));
                new_nodes.push(Node::Text(indent.clone()));
            }
        } else {
            new_nodes.push(Node::Element(Element::new(name)));
        }
        if closing_needed && pretty {
            new_nodes.push(Node::Text(format!("\n{}", "  ".repeat(depth))));
        }
        self.children.splice(insert_at..insert_at, new_nodes);
        match &mut self.children[elem_pos] {
            Node::Element(e) => e,
            _ => unreachable!("the new element was placed at elem_pos"),
        }
    }

    fn write_to(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.name);
        if self.children.is_empty() {
            out.push_str(self.raw_attrs.trim_end());
            out.push_str(" />");
            return;
        }
        out.push_str(&self.raw_attrs);
        out.push('>');
        for n in &self.children {
            match n {
                Node::Element(e) => e.write_to(out),
                Node::Text(t) => out.push_str(&escape(t.as_str())),
                Node::Comment(c) => {
                    out.push_str("<!--");
                    out.push_str(c);
                    out.push_str("-->");
                }
                Node::CData(c) => {
                    out.push_str("<![CDATA[");
                    out.push_str(c);
                    out.push_str("]]>");
                }
            }
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
    }
}

impl Document {
    /// A document with only a root element and an XML declaration.
    pub fn new(root: &str) -> Self {
        Document {
            prolog: "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n".to_string(),
            root: Element::new(root),
            epilog: "\n".to_string(),
            source: String::new(),
        }
    }

    /// 1-based line and column of an element that was read from the source.
    pub fn position(&self, element: &Element) -> Option<(usize, usize)> {
        element.offset.map(|o| line_column(&self.source, o))
    }

    /// Parse a document. DTDs are refused; entities other than the five predefined and
    /// character references are errors.
    pub fn parse(text: &str) -> Result<Document, SyntaxError> {
        let mut reader = Reader::from_str(text);
        reader.config_mut().trim_text(false);
        reader.config_mut().check_end_names = true;
        let mut stack: Vec<Element> = Vec::new();
        let mut root: Option<Element> = None;
        let mut prolog_end = 0usize;
        let mut epilog_start: Option<usize> = None;
        let err = |offset: usize, stack: &[Element], reason: String| {
            let (line, column) = line_column(text, offset);
            let element = if stack.is_empty() {
                None
            } else {
                Some(
                    stack
                        .iter()
                        .map(|e| e.name.as_str())
                        .collect::<Vec<_>>()
                        .join("/"),
                )
            };
            SyntaxError {
                line,
                column,
                element,
                reason,
            }
        };
        loop {
            let start = reader.buffer_position() as usize;
            let event = match reader.read_event() {
                Ok(ev) => ev,
                Err(e) => {
                    let pos = reader.error_position() as usize;
                    return Err(err(pos, &stack, describe_xml_error(&e)));
                }
            };
            match event {
                Event::Start(s) => {
                    if root.is_some() {
                        return Err(err(
                            start,
                            &stack,
                            "a second top-level element; a configuration file has exactly one"
                                .into(),
                        ));
                    }
                    if stack.len() >= MAX_DEPTH {
                        return Err(err(
                            start,
                            &stack,
                            format!("elements nested deeper than {MAX_DEPTH} levels"),
                        ));
                    }
                    if stack.is_empty() {
                        prolog_end = start;
                    }
                    stack.push(open_element(&s, start, text).map_err(|r| err(start, &stack, r))?);
                }
                Event::Empty(s) => {
                    if root.is_some() {
                        return Err(err(
                            start,
                            &stack,
                            "a second top-level element; a configuration file has exactly one"
                                .into(),
                        ));
                    }
                    let e = open_element(&s, start, text).map_err(|r| err(start, &stack, r))?;
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(Node::Element(e)),
                        None => {
                            prolog_end = start;
                            root = Some(e);
                            epilog_start = Some(reader.buffer_position() as usize);
                        }
                    }
                }
                Event::End(_) => {
                    let Some(done) = stack.pop() else {
                        return Err(err(
                            start,
                            &stack,
                            "a closing tag with no opening tag".into(),
                        ));
                    };
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(Node::Element(done)),
                        None => {
                            root = Some(done);
                            epilog_start = Some(reader.buffer_position() as usize);
                        }
                    }
                }
                Event::Text(t) => {
                    let raw = t[..].to_string();
                    if stack.is_empty() {
                        if !raw.trim().is_empty() {
                            return Err(err(
                                start,
                                &stack,
                                "text outside the top-level element".into(),
                            ));
                        }
                        continue;
                    }
                    let value = unescape(&raw)
                        .map_err(|e| {
                            err(
                                start,
                                &stack,
                                format!("bad character or entity reference: {e}"),
                            )
                        })?
                        .into_owned();
                    if let Some(parent) = stack.last_mut() {
                        push_text(parent, value);
                    }
                }
                Event::GeneralRef(r) => {
                    let name = r[..].to_string();
                    if stack.is_empty() {
                        return Err(err(
                            start,
                            &stack,
                            "an entity reference outside the top-level element".into(),
                        ));
                    }
                    let value = unescape(&format!("&{name};"))
                        .map_err(|_| err(start, &stack, format!("unknown entity '&{name};' (only &lt; &gt; &amp; &quot; &apos; and &#NN; are allowed)")))?
                        .into_owned();
                    if let Some(parent) = stack.last_mut() {
                        push_text(parent, value);
                    }
                }
                Event::CData(c) => {
                    let Some(parent) = stack.last_mut() else {
                        return Err(err(
                            start,
                            &stack,
                            "CDATA outside the top-level element".into(),
                        ));
                    };
                    parent.children.push(Node::CData(c[..].to_string()));
                }
                Event::Comment(c) => {
                    if let Some(parent) = stack.last_mut() {
                        parent.children.push(Node::Comment(c[..].to_string()));
                    }
                    // Comments outside the root stay in the raw prolog/epilog text.
                }
                Event::Decl(_) | Event::PI(_) => {
                    if !stack.is_empty() {
                        return Err(err(
                            start,
                            &stack,
                            "a processing instruction inside an element".into(),
                        ));
                    }
                }
                Event::DocType(_) => {
                    return Err(err(
                        start,
                        &stack,
                        "a DOCTYPE declaration; the configuration file must not have one".into(),
                    ));
                }
                Event::Eof => break,
            }
        }
        if !stack.is_empty() {
            let open = stack.last().map(|e| e.name.clone()).unwrap_or_default();
            return Err(err(
                text.len(),
                &stack,
                format!("the file ends before </{open}> closes <{open}>"),
            ));
        }
        let Some(root) = root else {
            return Err(err(
                text.len(),
                &stack,
                "no top-level element: the file is empty or not XML".into(),
            ));
        };
        let epilog = epilog_start
            .and_then(|s| text.get(s..))
            .unwrap_or("")
            .to_string();
        Ok(Document {
            prolog: text.get(..prolog_end).unwrap_or("").to_string(),
            root,
            epilog,
            source: text.to_string(),
        })
    }

    /// Serialize the document. A document that was parsed and not changed serializes to text
    /// that parses to the same tree.
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(self.source.len() + 256);
        out.push_str(&self.prolog);
        self.root.write_to(&mut out);
        out.push_str(&self.epilog);
        out
    }
}

fn push_text(parent: &mut Element, value: String) {
    if let Some(Node::Text(prev)) = parent.children.last_mut() {
        prev.push_str(&value);
    } else {
        parent.children.push(Node::Text(value));
    }
}

fn open_element(s: &BytesStart<'_>, offset: usize, text: &str) -> Result<Element, String> {
    let name = s.name().into_inner().to_string();
    // Validate the attributes now so a broken attribute is a syntax error with a position.
    for a in s.attributes() {
        a.map_err(|e| format!("bad attribute on <{name}>: {e}"))?;
    }
    let full = s[..].to_string();
    // `<A />` leaves " " after the name: white space before `>` or `/>` is not an attribute,
    // and kept it would be written back as `<A >`.
    let raw_attrs = full.get(name.len()..).unwrap_or("").trim_end().to_string();
    let _ = text;
    Ok(Element {
        name,
        raw_attrs,
        children: Vec::new(),
        offset: Some(offset),
    })
}

fn describe_xml_error(e: &quick_xml::Error) -> String {
    use quick_xml::Error as E;
    match e {
        E::IllFormed(ill) => format!("the XML is not well-formed: {ill}"),
        E::Syntax(s) => format!("the XML is not well-formed: {s}"),
        E::Encoding(_) => "the file is not valid UTF-8 text".into(),
        other => format!("the XML could not be read: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "<?xml version=\"1.0\"?>\n<!-- admin note -->\n<Root a=\"1\">\n  <A>x &amp; y</A>\n  <!-- keep me -->\n  <Custom z=\"2\"><Inner>deep</Inner></Custom>\n  <B/>\n</Root>\n";

    #[test]
    fn unchanged_document_round_trips_byte_for_byte() {
        let doc = Document::parse(SAMPLE).unwrap();
        assert_eq!(doc.to_xml().replace("<B />", "<B/>"), SAMPLE);
    }

    #[test]
    fn an_empty_element_given_a_value_is_written_without_a_stray_space() {
        let mut doc = Document::parse("<Root>\n  <A />\n  <B x=\"1\" />\n</Root>\n").unwrap();
        doc.root.child_mut_or_insert("A", &[], 1).set_text("v");
        doc.root.child_mut_or_insert("B", &[], 1).set_text("w");
        let xml = doc.to_xml();
        assert!(xml.contains("<A>v</A>"), "{xml}");
        assert!(xml.contains("<B x=\"1\">w</B>"), "{xml}");
    }

    #[test]
    fn text_and_positions() {
        let doc = Document::parse(SAMPLE).unwrap();
        let a = doc.root.child("A").unwrap();
        assert_eq!(a.text(), "x & y");
        assert_eq!(doc.position(a), Some((4, 3)));
        assert_eq!(
            doc.root
                .child("Custom")
                .unwrap()
                .child("Inner")
                .unwrap()
                .text(),
            "deep"
        );
    }

    #[test]
    fn inserted_element_goes_after_its_canonical_predecessor() {
        let mut doc = Document::parse(SAMPLE).unwrap();
        let order = ["A", "N", "B"];
        doc.root.child_mut_or_insert("N", &order, 0).set_text("new");
        let xml = doc.to_xml();
        let a = xml.find("<A>").unwrap();
        let n = xml.find("<N>new</N>").unwrap();
        let custom = xml.find("<Custom").unwrap();
        assert!(a < n && n < custom, "{xml}");
        assert!(xml.contains("<!-- keep me -->"));
        // Still well-formed and re-readable.
        let again = Document::parse(&xml).unwrap();
        assert_eq!(again.root.child("N").unwrap().text(), "new");
    }

    #[test]
    fn insert_into_empty_element_is_indented() {
        let mut doc = Document::new("Root");
        doc.root
            .child_mut_or_insert("Proxy", &["Proxy"], 0)
            .child_mut_or_insert("Port", &["Port"], 1)
            .set_text("8080");
        assert_eq!(
            doc.to_xml(),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Root>\n  <Proxy>\n    <Port>8080</Port>\n  </Proxy>\n</Root>\n"
        );
    }

    #[test]
    fn syntax_errors_have_line_column_and_element() {
        let bad = "<Root>\n  <Proxy>\n    <Port>80</Prt>\n  </Proxy>\n</Root>\n";
        let e = Document::parse(bad).unwrap_err();
        assert_eq!(e.line, 3);
        assert_eq!(e.element.as_deref(), Some("Root/Proxy/Port"));
        let truncated = "<Root>\n  <A>1</A>\n";
        let e = Document::parse(truncated).unwrap_err();
        assert!(e.reason.contains("ends before </Root>"), "{e}");
        assert!(Document::parse("").is_err());
        assert!(Document::parse("<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>").is_err());
        assert!(Document::parse("<a>&bogus;</a>").is_err());
    }

    #[test]
    fn hostile_nesting_is_an_error_not_a_crash() {
        let deep = "<a>".repeat(10_000);
        let e = Document::parse(&deep).unwrap_err();
        assert!(e.reason.contains("nested deeper"), "{e}");
    }

    #[test]
    fn escapes_survive() {
        let mut doc = Document::parse("<R><A>1</A></R>").unwrap();
        doc.root.child_mut_or_insert("A", &[], 0).set_text("<&\">");
        let back = Document::parse(&doc.to_xml()).unwrap();
        assert_eq!(back.root.child("A").unwrap().text(), "<&\">");
    }
}
