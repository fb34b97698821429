//! Exchange's OPATH `-Filter` syntax, the subset the connector sends: comparisons
//! `Property -op 'value'` (`-eq -ne -gt -ge -lt -le -like -notlike`), joined by `-and` / `-or`,
//! negated by `-not`, grouped by optional parentheses; values quoted with `'…'` or `"…"`
//! (doubled quotes escape), or bare (`$true`, `$false`, `$null`, numbers).
//!
//! One [`Filter`] serves both sides: the client builds one ([`Filter::cmp`], [`Filter::and`])
//! and sends its text (`Display`, quoting done here, never by hand); the lab parses the text
//! ([`Filter::parse`]) and evaluates it against anything implementing [`Record`]. Dates are
//! accepted as en-US `MM/dd/yyyy HH:mm:ss` (time optional) or ISO-8601, in UTC (the lab's
//! server time zone). This module knows nothing of cmdlets or devices and must not panic on
//! any input: every problem is a [`FilterError`] carrying Exchange's wording.

use core::fmt;
use std::borrow::Cow;

use time::{Date, Month, PrimitiveDateTime, Time};

/// Why a filter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("Invalid filter syntax. For a description of the filter parameter syntax see the command help.\n\"{filter}\" at position {position}.")]
    Syntax { filter: String, position: usize },
    #[error("\"{0}\" is not a recognized filterable property. For a list of filterable properties, see the command help.")]
    UnknownProperty(String),
    #[error("The value \"{value}\" could not be converted to type {ty}.")]
    BadValue { value: String, ty: &'static str },
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Like,
    NotLike,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Cmp {
        property: String,
        op: Op,
        value: Literal,
    },
}

/// The value side of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    /// `$null`.
    Null,
    /// `$true` / `$false`.
    Bool(bool),
    /// `'…'` (bare words and numbers parse to this too).
    Text(String),
}

impl Literal {
    /// The value as the comparison sees it (`None` for `$null`).
    fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Literal::Null => None,
            Literal::Bool(b) => Some(Cow::Borrowed(if *b { "True" } else { "False" })),
            Literal::Text(t) => Some(Cow::Borrowed(t)),
        }
    }
}

impl From<bool> for Literal {
    fn from(b: bool) -> Literal {
        Literal::Bool(b)
    }
}

impl From<&str> for Literal {
    fn from(s: &str) -> Literal {
        Literal::Text(s.to_string())
    }
}

impl From<String> for Literal {
    fn from(s: String) -> Literal {
        Literal::Text(s)
    }
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "-eq",
            Op::Ne => "-ne",
            Op::Gt => "-gt",
            Op::Ge => "-ge",
            Op::Lt => "-lt",
            Op::Le => "-le",
            Op::Like => "-like",
            Op::NotLike => "-notlike",
        }
    }
}

impl Filter {
    /// `property -op value`.
    pub fn cmp(property: impl Into<String>, op: Op, value: impl Into<Literal>) -> Filter {
        Filter::Cmp {
            property: property.into(),
            op,
            value: value.into(),
        }
    }

    /// Both this and `other`.
    pub fn and(self, other: Filter) -> Filter {
        match self {
            Filter::And(mut parts) => {
                parts.push(other);
                Filter::And(parts)
            }
            first => Filter::And(vec![first, other]),
        }
    }
}

/// The filter as OPATH text: strings in single quotes (a quote inside is doubled),
/// composite parts in parentheses.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let part = |f: &mut fmt::Formatter<'_>, p: &Filter| match p {
            Filter::Cmp { .. } | Filter::Not(_) => write!(f, "{p}"),
            _ => write!(f, "({p})"),
        };
        match self {
            Filter::And(parts) | Filter::Or(parts) => {
                let join = if matches!(self, Filter::And(_)) {
                    " -and "
                } else {
                    " -or "
                };
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(join)?;
                    }
                    part(f, p)?;
                }
                Ok(())
            }
            Filter::Not(p) => {
                f.write_str("-not ")?;
                match &**p {
                    Filter::Not(_) => write!(f, "{p}"),
                    _ => write!(f, "({p})"),
                }
            }
            Filter::Cmp {
                property,
                op,
                value,
            } => {
                write!(f, "{property} {} ", op.as_str())?;
                match value {
                    Literal::Null => f.write_str("$null"),
                    Literal::Bool(true) => f.write_str("$true"),
                    Literal::Bool(false) => f.write_str("$false"),
                    Literal::Text(t) => write!(f, "'{}'", t.replace('\'', "''")),
                }
            }
        }
    }
}

/// A property value as a filter sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Str(String),
    /// Seconds since the Unix epoch (UTC).
    Date(i64),
    Bool(bool),
    Int(i64),
    Null,
}

/// Something a filter can look at.
pub trait Record {
    /// The value of `property` (any case), or `None` when it is not filterable.
    fn field(&self, property: &str) -> Option<FieldValue>;
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Dash(String),
    Word(String),
    Quoted(String),
}

fn tokenize(s: &str) -> Result<Vec<(usize, Tok)>, FilterError> {
    let err = |position| FilterError::Syntax {
        filter: s.to_string(),
        position,
    };
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&(pos, c)) = chars.get(i) {
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push((pos, Tok::LParen));
                i += 1;
            }
            ')' => {
                out.push((pos, Tok::RParen));
                i += 1;
            }
            '\'' | '"' => {
                let quote = c;
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(err(pos)),
                        Some(&(_, q)) if q == quote => {
                            if chars.get(i + 1).map(|&(_, n)| n) == Some(quote) {
                                text.push(quote);
                                i += 2;
                            } else {
                                i += 1;
                                break;
                            }
                        }
                        Some(&(_, ch)) => {
                            text.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push((pos, Tok::Quoted(text)));
            }
            _ => {
                let mut word = String::new();
                while let Some(&(_, ch)) = chars.get(i) {
                    if ch.is_whitespace() || ch == '(' || ch == ')' || ch == '\'' || ch == '"' {
                        break;
                    }
                    word.push(ch);
                    i += 1;
                }
                match word.strip_prefix('-') {
                    Some(op) if !op.is_empty() && op.chars().all(|c| c.is_ascii_alphabetic()) => {
                        out.push((pos, Tok::Dash(op.to_ascii_lowercase())))
                    }
                    _ => out.push((pos, Tok::Word(word))),
                }
            }
        }
    }
    Ok(out)
}

struct Parser<'a> {
    text: &'a str,
    toks: Vec<(usize, Tok)>,
    at: usize,
}

impl Parser<'_> {
    fn err(&self) -> FilterError {
        FilterError::Syntax {
            filter: self.text.to_string(),
            position: self
                .toks
                .get(self.at)
                .map(|(p, _)| *p)
                .unwrap_or(self.text.len()),
        }
    }
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(_, t)| t)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).map(|(_, t)| t.clone());
        self.at += 1;
        t
    }
    fn or(&mut self) -> Result<Filter, FilterError> {
        let mut parts = vec![self.and()?];
        while matches!(self.peek(), Some(Tok::Dash(d)) if d == "or") {
            self.at += 1;
            parts.push(self.and()?);
        }
        Ok(match parts.pop() {
            Some(only) if parts.is_empty() => only,
            Some(last) => {
                parts.push(last);
                Filter::Or(parts)
            }
            None => return Err(self.err()),
        })
    }
    fn and(&mut self) -> Result<Filter, FilterError> {
        let mut parts = vec![self.unary()?];
        while matches!(self.peek(), Some(Tok::Dash(d)) if d == "and") {
            self.at += 1;
            parts.push(self.unary()?);
        }
        Ok(match parts.pop() {
            Some(only) if parts.is_empty() => only,
            Some(last) => {
                parts.push(last);
                Filter::And(parts)
            }
            None => return Err(self.err()),
        })
    }
    fn unary(&mut self) -> Result<Filter, FilterError> {
        match self.peek() {
            Some(Tok::Dash(d)) if d == "not" => {
                self.at += 1;
                Ok(Filter::Not(Box::new(self.unary()?)))
            }
            Some(Tok::LParen) => {
                self.at += 1;
                let f = self.or()?;
                match self.next() {
                    Some(Tok::RParen) => Ok(f),
                    _ => {
                        self.at = self.at.saturating_sub(1);
                        Err(self.err())
                    }
                }
            }
            _ => self.comparison(),
        }
    }
    fn comparison(&mut self) -> Result<Filter, FilterError> {
        let property = match self.next() {
            Some(Tok::Word(w)) if w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => w,
            _ => {
                self.at = self.at.saturating_sub(1);
                return Err(self.err());
            }
        };
        let op = match self.next() {
            Some(Tok::Dash(d)) => match d.as_str() {
                "eq" => Op::Eq,
                "ne" => Op::Ne,
                "gt" => Op::Gt,
                "ge" => Op::Ge,
                "lt" => Op::Lt,
                "le" => Op::Le,
                "like" => Op::Like,
                "notlike" => Op::NotLike,
                _ => {
                    self.at = self.at.saturating_sub(1);
                    return Err(self.err());
                }
            },
            _ => {
                self.at = self.at.saturating_sub(1);
                return Err(self.err());
            }
        };
        let value = match self.next() {
            Some(Tok::Quoted(q)) => Literal::Text(q),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("$null") => Literal::Null,
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("$true") => Literal::Bool(true),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("$false") => Literal::Bool(false),
            Some(Tok::Word(w)) if !w.starts_with('$') => Literal::Text(w),
            _ => {
                self.at = self.at.saturating_sub(1);
                return Err(self.err());
            }
        };
        Ok(Filter::Cmp {
            property,
            op,
            value,
        })
    }
}

impl Filter {
    /// Parse OPATH text. An outer pair of braces (`{ … }`, as typed in a shell) is accepted.
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        let inner = text.trim();
        let inner = inner
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(inner);
        let mut p = Parser {
            text,
            toks: tokenize(inner)?,
            at: 0,
        };
        let f = p.or()?;
        if p.at < p.toks.len() {
            return Err(p.err());
        }
        Ok(f)
    }

    /// Check every property against `record` once, so an unknown property is an error even
    /// when there is nothing to filter.
    pub fn validate(&self, record: &dyn Record) -> Result<(), FilterError> {
        match self {
            Filter::And(v) | Filter::Or(v) => v.iter().try_for_each(|f| f.validate(record)),
            Filter::Not(f) => f.validate(record),
            Filter::Cmp {
                property, value, ..
            } => {
                let field = record
                    .field(property)
                    .ok_or_else(|| FilterError::UnknownProperty(property.clone()))?;
                if let (FieldValue::Date(_), Some(v)) = (&field, value.text()) {
                    parse_date(&v).ok_or_else(|| FilterError::BadValue {
                        value: v.into_owned(),
                        ty: "System.DateTime",
                    })?;
                }
                Ok(())
            }
        }
    }

    /// Whether `record` matches; unknown properties never match (call [`Filter::validate`]
    /// first to report them).
    pub fn matches(&self, record: &dyn Record) -> bool {
        match self {
            Filter::And(v) => v.iter().all(|f| f.matches(record)),
            Filter::Or(v) => v.iter().any(|f| f.matches(record)),
            Filter::Not(f) => !f.matches(record),
            Filter::Cmp {
                property,
                op,
                value,
            } => match record.field(property) {
                Some(field) => compare(&field, *op, value.text().as_deref()),
                None => false,
            },
        }
    }
}

fn ordering_holds(o: std::cmp::Ordering, op: Op) -> bool {
    use std::cmp::Ordering::*;
    match op {
        Op::Eq | Op::Like => o == Equal,
        Op::Ne | Op::NotLike => o != Equal,
        Op::Gt => o == Greater,
        Op::Ge => o != Less,
        Op::Lt => o == Less,
        Op::Le => o != Greater,
    }
}

fn compare(field: &FieldValue, op: Op, value: Option<&str>) -> bool {
    let Some(value) = value else {
        let is_null = matches!(field, FieldValue::Null)
            || matches!(field, FieldValue::Str(s) if s.is_empty());
        return match op {
            Op::Eq | Op::Like => is_null,
            Op::Ne | Op::NotLike => !is_null,
            _ => false,
        };
    };
    match field {
        FieldValue::Null => matches!(op, Op::Ne | Op::NotLike),
        FieldValue::Str(s) => match op {
            Op::Like => wildcard_match(value, s),
            Op::NotLike => !wildcard_match(value, s),
            _ => ordering_holds(s.to_lowercase().cmp(&value.to_lowercase()), op),
        },
        FieldValue::Date(d) => match parse_date(value) {
            Some(v) => ordering_holds(d.cmp(&v), op),
            None => false,
        },
        FieldValue::Bool(b) => {
            let v = match value.to_ascii_lowercase().as_str() {
                "true" | "$true" | "1" => true,
                "false" | "$false" | "0" => false,
                _ => return false,
            };
            ordering_holds(b.cmp(&v), op)
        }
        FieldValue::Int(n) => match value.trim().parse::<i64>() {
            Ok(v) => ordering_holds(n.cmp(&v), op),
            Err(_) => false,
        },
    }
}

/// PowerShell `-like`: `*` any run, `?` one character, case-insensitive.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || Some(&c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

fn num(s: &str) -> Option<u32> {
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn to_unix(y: u32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<i64> {
    let month = Month::try_from(u8::try_from(mo).ok()?).ok()?;
    let date =
        Date::from_calendar_date(i32::try_from(y).ok()?, month, u8::try_from(d).ok()?).ok()?;
    let time = Time::from_hms(
        u8::try_from(h).ok()?,
        u8::try_from(mi).ok()?,
        u8::try_from(s).ok()?,
    )
    .ok()?;
    Some(
        PrimitiveDateTime::new(date, time)
            .assume_utc()
            .unix_timestamp(),
    )
}

fn hms(t: Option<&str>) -> Option<(u32, u32, u32)> {
    let Some(t) = t else {
        return Some((0, 0, 0));
    };
    let mut it = t.split(':');
    let h = num(it.next()?)?;
    let m = num(it.next()?)?;
    let s = match it.next() {
        Some(s) => num(s.split('.').next()?)?,
        None => 0,
    };
    if it.next().is_some() {
        return None;
    }
    Some((h, m, s))
}

/// Parse a date as Exchange accepts it in en-US: `MM/dd/yyyy[ HH:mm[:ss]]` or ISO-8601
/// `yyyy-MM-dd[THH:mm:ss[.fff]][Z|±hh:mm]`. Returns Unix seconds.
pub fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.contains('/') {
        let (date, time) = match s.split_once(' ') {
            Some((d, t)) => (d, Some(t.trim())),
            None => (s, None),
        };
        let mut parts = date.split('/');
        let mo = num(parts.next()?)?;
        let d = num(parts.next()?)?;
        let y = num(parts.next()?)?;
        if parts.next().is_some() {
            return None;
        }
        let (h, mi, sec) = hms(time)?;
        return to_unix(y, mo, d, h, mi, sec);
    }
    let (date, rest) = match s.split_once(['T', ' ']) {
        Some((d, r)) => (d, Some(r)),
        None => (s, None),
    };
    let mut parts = date.split('-');
    let y = num(parts.next()?)?;
    let mo = num(parts.next()?)?;
    let d = num(parts.next()?)?;
    if parts.next().is_some() {
        return None;
    }
    let (time, offset) = match rest {
        None => (None, 0i64),
        Some(r) => {
            if let Some(t) = r.strip_suffix('Z') {
                (Some(t), 0)
            } else if let Some(i) = r.rfind(['+', '-']) {
                let (t, off) = r.split_at(i);
                let sign = if off.starts_with('-') { -1 } else { 1 };
                let (oh, om) = off.get(1..)?.split_once(':')?;
                (
                    Some(t),
                    sign * (i64::from(num(oh)?) * 3600 + i64::from(num(om)?) * 60),
                )
            } else {
                (Some(r), 0)
            }
        }
    };
    let (h, mi, sec) = hms(time)?;
    Some(to_unix(y, mo, d, h, mi, sec)? - offset)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    struct Dev;
    impl Record for Dev {
        fn field(&self, p: &str) -> Option<FieldValue> {
            Some(match p.to_ascii_lowercase().as_str() {
                "devicetype" => FieldValue::Str("iPhone".into()),
                "deviceaccessstate" => FieldValue::Str("Blocked".into()),
                "whenchanged" => FieldValue::Date(parse_date("2026-10-01T12:00:00Z")?),
                "isvalid" => FieldValue::Bool(true),
                "deviceimei" => FieldValue::Null,
                _ => return None,
            })
        }
    }

    fn m(f: &str) -> bool {
        let f = Filter::parse(f).unwrap();
        f.validate(&Dev).unwrap();
        f.matches(&Dev)
    }

    #[test]
    fn comparisons_and_logic() {
        assert!(m("DeviceType -eq 'iphone'"));
        assert!(m("DeviceType -like 'iP*'"));
        assert!(m("DeviceType -like 'i?hone'"));
        assert!(!m("DeviceType -notlike '*phone'"));
        assert!(m("DeviceType -ne \"Android\""));
        assert!(m(
            "(DeviceType -eq 'Android') -or (DeviceAccessState -eq 'Blocked')"
        ));
        assert!(!m(
            "DeviceType -eq 'Android' -or DeviceAccessState -eq 'Allowed'"
        ));
        assert!(m(
            "DeviceType -eq 'iPhone' -and -not (DeviceAccessState -eq 'Allowed')"
        ));
        assert!(m("{DeviceType -eq 'iPhone'}"));
        assert!(m("IsValid -eq $true"));
        assert!(m("DeviceImei -eq $null"));
        assert!(!m("DeviceType -eq 'it''s'"));
    }

    #[test]
    fn dates_in_both_formats() {
        assert!(m("WhenChanged -gt '09/30/2026 23:59:59'"));
        assert!(m("WhenChanged -ge '10/01/2026 12:00:00'"));
        assert!(!m("WhenChanged -gt '10/01/2026 12:00:00'"));
        assert!(m("WhenChanged -lt '2026-10-01T12:00:01Z'"));
        assert!(m("WhenChanged -eq '2026-10-01T14:00:00+02:00'"));
        assert!(m("WhenChanged -le '10/02/2026'"));
        assert_eq!(parse_date("01/01/1970 00:00:00"), Some(0));
        assert_eq!(parse_date("1970-01-02"), Some(86_400));
        assert_eq!(parse_date("13/01/2026"), None);
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn errors_use_exchange_wording() {
        let e = Filter::parse("DeviceType -eq").unwrap_err();
        assert!(e.to_string().starts_with("Invalid filter syntax."), "{e}");
        assert!(Filter::parse("DeviceType -foo 'x'").is_err());
        assert!(Filter::parse("(DeviceType -eq 'x'").is_err());
        assert!(Filter::parse("DeviceType -eq 'x' junk").is_err());
        assert!(Filter::parse("DeviceType -eq 'x").is_err());
        let f = Filter::parse("Colour -eq 'red'").unwrap();
        assert_eq!(
            f.validate(&Dev).unwrap_err(),
            FilterError::UnknownProperty("Colour".into())
        );
        let f = Filter::parse("WhenChanged -gt 'soon'").unwrap();
        assert!(matches!(
            f.validate(&Dev).unwrap_err(),
            FilterError::BadValue { .. }
        ));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(!wildcard_match("a*b*c", "aXXbYY"));
        assert!(wildcard_match("*phone", "iPhone"));
    }

    #[test]
    fn built_filters_render_as_exchange_reads_them_and_parse_back() {
        let f = Filter::cmp("WhenChanged", Op::Gt, "10/01/2026 12:00:00");
        assert_eq!(f.to_string(), "WhenChanged -gt '10/01/2026 12:00:00'");
        let f = Filter::cmp("HasActiveSyncDevicePartnership", Op::Eq, true);
        assert_eq!(f.to_string(), "HasActiveSyncDevicePartnership -eq $true");
        let quoted = Filter::cmp("DeviceModel", Op::Like, "O'Brien*");
        assert_eq!(quoted.to_string(), "DeviceModel -like 'O''Brien*'");
        let nested = Filter::cmp("DeviceType", Op::Eq, "iPhone")
            .and(Filter::Or(vec![
                Filter::cmp("DeviceAccessState", Op::Eq, "Blocked"),
                Filter::Not(Box::new(Filter::cmp("DeviceOS", Op::Ne, Literal::Null))),
            ]))
            .and(Filter::cmp("IsValid", Op::Eq, false));
        assert_eq!(
            nested.to_string(),
            "DeviceType -eq 'iPhone' -and (DeviceAccessState -eq 'Blocked' -or -not \
             (DeviceOS -ne $null)) -and IsValid -eq $false"
        );
        for f in [f, quoted, nested] {
            assert_eq!(Filter::parse(&f.to_string()).unwrap(), f, "{f}");
        }
        assert!(m(&Filter::cmp("DeviceType", Op::Eq, "IPHONE")
            .and(Filter::cmp("IsValid", Op::Eq, true))
            .to_string()));
    }
}
