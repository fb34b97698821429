//! The wizard's languages: English, Dutch and French, chosen from the OS locale or `--lang`.
//!
//! Strings are written in English at the call site and looked up here (the gettext pattern);
//! a string without a translation shows in English. Messages from the configuration
//! validators and the checks stay in English (they name configuration elements). This module
//! only maps text; it must never see a password.

use std::collections::HashMap;
use std::sync::OnceLock;

/// A display language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Nl,
    Fr,
}

impl Lang {
    /// From a tag such as `nl`, `fr-BE`, `nl_NL.UTF-8`; `None` for anything else.
    pub fn parse(tag: &str) -> Option<Lang> {
        let t = tag.trim().to_ascii_lowercase();
        let primary = t.split(['-', '_', '.', '@']).next().unwrap_or_default();
        match primary {
            "en" => Some(Lang::En),
            "nl" => Some(Lang::Nl),
            "fr" => Some(Lang::Fr),
            _ => None,
        }
    }

    /// The OS display language (LC_ALL / LC_MESSAGES / LANG on Linux, the user locale on
    /// Windows), English when it is none of ours.
    pub fn from_os() -> Lang {
        for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let Ok(v) = std::env::var(var) {
                if !v.is_empty() && v != "C" && v != "POSIX" {
                    return Lang::parse(&v).unwrap_or(Lang::En);
                }
            }
        }
        sys_locale::get_locale()
            .and_then(|l| Lang::parse(&l))
            .unwrap_or(Lang::En)
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Nl => "nl",
            Lang::Fr => "fr",
        }
    }

    /// The translation of an English string.
    pub fn t(self, en: &'static str) -> &'static str {
        if self == Lang::En {
            return en;
        }
        match table().get(en) {
            Some((nl, fr)) => match self {
                Lang::Nl => nl,
                _ => fr,
            },
            None => en,
        }
    }

    /// The translation of an English template, with each `{}` replaced by the next argument.
    pub fn f(self, en: &'static str, args: &[&str]) -> String {
        let mut out = String::new();
        let mut parts = self.t(en).split("{}");
        if let Some(first) = parts.next() {
            out.push_str(first);
        }
        for (i, p) in parts.enumerate() {
            out.push_str(args.get(i).copied().unwrap_or_default());
            out.push_str(p);
        }
        out
    }
}

fn table() -> &'static HashMap<&'static str, (&'static str, &'static str)> {
    static T: OnceLock<HashMap<&'static str, (&'static str, &'static str)>> = OnceLock::new();
    T.get_or_init(|| STRINGS.iter().map(|(en, nl, fr)| (*en, (*nl, *fr))).collect())
}

/// (English, Dutch, French).
pub const STRINGS: &[(&str, &str, &str)] = &[
    // TRANSLATIONS
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_templates() {
        assert_eq!(Lang::parse("nl_BE.UTF-8"), Some(Lang::Nl));
        assert_eq!(Lang::parse("fr-CA"), Some(Lang::Fr));
        assert_eq!(Lang::parse("de"), None);
        assert_eq!(Lang::En.f("a {} b {}", &["1", "2"]), "a 1 b 2");
    }

    #[test]
    fn every_translation_is_complete_and_keeps_placeholders() {
        for (en, nl, fr) in STRINGS {
            assert!(!nl.is_empty() && !fr.is_empty(), "{en}");
            let n = en.matches("{}").count();
            assert_eq!(nl.matches("{}").count(), n, "{en}");
            assert_eq!(fr.matches("{}").count(), n, "{en}");
        }
    }
}
