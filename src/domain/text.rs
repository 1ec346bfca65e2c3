//! Plain text as typed into a form field, a JSON field or a CSV cell: the one gate every text
//! value passes before anything else reads it (the other domain types start here too).
//!
//! Refused everywhere, because no one types them and they do harm downstream:
//! - control characters (C0, DEL, C1): a NUL byte is not even storable in PostgreSQL, a line
//!   break in a one-line value splits mail headers and CSV rows;
//! - the bidirectional embedding, override and isolate characters U+202A-U+202E and
//!   U+2066-U+2069, which make text display in an order other than the one it is stored in
//!   (an address or a name in a mail's `To:` line that reads differently from what it is);
//! - U+FFFD and the Unicode noncharacters, which is what a wrongly encoded byte becomes.
//!
//! Values are trimmed of spaces, tabs and line breaks; other control characters are refused
//! even at the ends (a trailing form feed or NEL is not "whitespace" anyone typed). Multi-line
//! fields (notes, the lots and CSV text areas) also allow line feeds and tabs inside; `\r\n`
//! and a lone `\r` are read as `\n`. Lengths count characters. Numbers, dates, times and
//! choices are read through [`clean`] first, so they obey the same rule.

use super::FieldError;

/// Catalogue key: the text contains a character that may not be used (see the module doc).
pub const CHARS: &str = "err.text.chars";
/// Catalogue key: the text is longer than the field allows.
pub const LONG: &str = "err.text.long";
/// Catalogue key: a required text is empty.
pub const EMPTY: &str = "err.text.empty";

/// How one text field is read: its name, its longest length, one line or several, required.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRule {
    field: &'static str,
    max: usize,
    multiline: bool,
    required: bool,
}

impl TextRule {
    /// One line of at most `max` characters (may be empty).
    pub const fn line(field: &'static str, max: usize) -> TextRule {
        TextRule {
            field,
            max,
            multiline: false,
            required: false,
        }
    }

    /// Several lines (line feeds and tabs allowed), at most `max` characters in all.
    pub const fn lines(field: &'static str, max: usize) -> TextRule {
        TextRule {
            multiline: true,
            ..TextRule::line(field, max)
        }
    }

    /// The same rule, refusing an empty value.
    pub const fn required(self) -> TextRule {
        TextRule {
            required: true,
            ..self
        }
    }
}

/// Whether `c` may appear in a text value (`multiline`: line feeds and tabs too).
pub fn allowed(c: char, multiline: bool) -> bool {
    let noncharacter = matches!(c as u32, 0xFDD0..=0xFDEF) || (c as u32) & 0xFFFE == 0xFFFE;
    let bidi = matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    let line_break = matches!(c, '\u{2028}' | '\u{2029}');
    if multiline && matches!(c, '\n' | '\t') {
        return true;
    }
    !(c.is_control() || bidi || noncharacter || c == '\u{FFFD}' || (!multiline && line_break))
}

/// `raw` trimmed, if it is one line of allowed characters (before numbers, dates, times and
/// choices are read from it).
pub fn clean(raw: &str) -> Option<&str> {
    let s = raw.trim();
    (untrimmed_ok(raw) && s.chars().all(|c| allowed(c, false))).then_some(s)
}

/// No control character but the spaces and line breaks trimming may remove.
fn untrimmed_ok(raw: &str) -> bool {
    raw.chars().all(|c| allowed(c, true) || c == '\r')
}

/// Text that passed a [`TextRule`]: trimmed, of allowed characters, not too long.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlainText(String);

impl PlainText {
    /// Read `raw` by `rule`. Errors name the rule's field with [`CHARS`], [`LONG`] or [`EMPTY`].
    pub fn parse(raw: &str, rule: TextRule) -> Result<PlainText, FieldError> {
        if !untrimmed_ok(raw) {
            return Err(FieldError::new(rule.field, CHARS));
        }
        let normalised;
        let mut s = raw;
        if rule.multiline && s.contains('\r') {
            normalised = s.replace("\r\n", "\n").replace('\r', "\n");
            s = &normalised;
        }
        let s = s.trim();
        if !s.chars().all(|c| allowed(c, rule.multiline)) {
            return Err(FieldError::new(rule.field, CHARS));
        }
        if s.chars().count() > rule.max {
            return Err(FieldError::new(rule.field, LONG));
        }
        if rule.required && s.is_empty() {
            return Err(FieldError::new(rule.field, EMPTY));
        }
        Ok(PlainText(s.to_string()))
    }

    /// A code-like field as people type it (a booking code, an ID number, a phone number): one
    /// line of plain text of at most `max` characters, refused as `key` otherwise, read without
    /// white space or the `ignored` characters, upper-cased.
    pub fn token(
        raw: &str,
        field: &'static str,
        max: usize,
        key: &'static str,
        ignored: &[char],
    ) -> Result<String, FieldError> {
        let text = PlainText::parse(raw, TextRule::line(field, max)).map_err(|e| e.or_key(key))?;
        Ok(text
            .as_str()
            .chars()
            .filter(|c| !c.is_whitespace() && !ignored.contains(c))
            .map(|c| c.to_ascii_uppercase())
            .collect())
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text, owned.
    pub fn into_string(self) -> String {
        self.0
    }

    /// Whether nothing was typed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NAME: TextRule = TextRule::line("name", 10).required();
    const NOTE: TextRule = TextRule::lines("note", 20);

    fn key(raw: &str, rule: TextRule) -> &'static str {
        PlainText::parse(raw, rule).unwrap_err().key
    }

    #[test]
    fn text_is_trimmed_and_kept() {
        assert_eq!(
            PlainText::parse("  王小明 \n", NAME).unwrap().as_str(),
            "王小明"
        );
        assert_eq!(
            PlainText::parse("a\r\nb\rc\td", NOTE).unwrap().as_str(),
            "a\nb\nc\td"
        );
        assert!(PlainText::parse("", TextRule::line("x", 5))
            .unwrap()
            .is_empty());
        // Joiners that scripts and emoji need are not bidi controls.
        assert!(PlainText::parse("👩\u{200D}⚕️", NAME).is_ok());
        assert!(PlainText::parse("می\u{200C}خواهم", NAME).is_ok());
    }

    #[test]
    fn control_bidi_and_encoding_damage_are_refused_with_the_field_named() {
        for bad in [
            "a\0b",
            "a\u{1}b",
            "a\u{1b}[31mb",
            "a\u{7f}b",
            "a\u{85}b",
            "a\u{9b}b",
            "a\tb",
            "a\nb",
            "a\u{2028}b",
            "\u{202E}gpj.exe",
            "a\u{202A}b",
            "a\u{202D}b",
            "a\u{2066}b",
            "a\u{2069}b",
            "a\u{FFFD}b",
            "a\u{FFFE}b",
            "a\u{FDD0}b",
            "a\u{10FFFF}b",
            "ab\u{c}",
            "\u{b}ab",
            "ab\u{85}",
            "ab\0",
        ] {
            let e = PlainText::parse(bad, NAME).unwrap_err();
            assert_eq!((e.field, e.key), ("name", CHARS), "{bad:?}");
        }
        assert_eq!(key("a\0b", NOTE), CHARS);
        assert_eq!(key("a\u{2067}b", NOTE), CHARS);
        assert_eq!(key("a\u{b}b", NOTE), CHARS);
    }

    #[test]
    fn clean_values_are_trimmed_one_liners() {
        assert_eq!(clean(" 42 \r\n"), Some("42"));
        assert_eq!(clean("\t08:30"), Some("08:30"));
        for bad in [
            "42\u{c}",
            "\u{85}42",
            "4\u{202E}2",
            "4\n2",
            "42\0",
            "4\u{FFFD}",
        ] {
            assert_eq!(clean(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn length_and_emptiness_have_their_own_keys() {
        assert_eq!(key(&"名".repeat(11), NAME), LONG);
        assert!(PlainText::parse(&"名".repeat(10), NAME).is_ok());
        assert_eq!(key("   ", NAME), EMPTY);
        assert_eq!(key("\u{3000}", NAME), EMPTY);
        // The characters are checked first: a long text with a NUL says so.
        assert_eq!(key(&format!("{}\0", "x".repeat(50)), NAME), CHARS);
    }

    proptest! {
        #[test]
        fn accepted_text_is_trimmed_bounded_and_clean(s in "\\PC{0,30}|.{0,30}|[\\x00-\\x20a\\u{202A}-\\u{202E}\\u{2066}-\\u{2069}]{0,12}") {
            for rule in [NAME, NOTE] {
                match PlainText::parse(&s, rule) {
                    Ok(t) => {
                        prop_assert_eq!(t.as_str().trim(), t.as_str());
                        prop_assert!(t.as_str().chars().count() <= rule.max);
                        prop_assert!(t.as_str().chars().all(|c| allowed(c, rule.multiline)));
                        prop_assert!(!t.as_str().contains('\0'));
                        prop_assert!(!t.as_str().contains('\r'));
                    }
                    Err(e) => {
                        prop_assert_eq!(e.field, rule.field);
                        prop_assert!([CHARS, LONG, EMPTY].contains(&e.key));
                    }
                }
            }
        }

        #[test]
        fn any_bidi_control_anywhere_is_refused(
            a in "\\PC{0,8}",
            b in "\\PC{0,8}",
            c in prop::sample::select(vec!['\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\0', '\u{7}'])
        ) {
            let s = format!("{a}{c}{b}");
            prop_assert_eq!(PlainText::parse(&s, NOTE).unwrap_err().key, CHARS);
        }
    }
}
