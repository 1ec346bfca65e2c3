//! A resident's name, mobile phone number and email address.

use super::{FieldError, PlainText, TextRule};

/// A person's name: 1 to 50 letters (any script), spaces, and the marks names use (`·.'-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    /// Parse a name; markup, digits and SQL punctuation are refused, not escaped away (control
    /// and text-direction characters by [`PlainText`] first).
    pub fn parse(raw: &str) -> Result<PersonName, FieldError> {
        // Spacing is collapsed below; the text rule only bounds what is read.
        let text = PlainText::parse(raw, TextRule::line("name", 200))
            .map_err(|e| e.or_key("err.name.long"))?;
        let s = text
            .as_str()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let n = s.chars().count();
        if n == 0 {
            return Err(FieldError::new("name", "err.name.empty"));
        }
        if n > 50 {
            return Err(FieldError::new("name", "err.name.long"));
        }
        let ok = |c: char| c.is_alphabetic() || c == ' ' || "·•.'-’".contains(c);
        if !s.chars().all(ok) {
            return Err(FieldError::new("name", "err.name.chars"));
        }
        Ok(PersonName(s))
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A mainland mobile number: 11 digits starting 13-19, an optional +86 prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// Parse a phone number; spaces and hyphens are ignored.
    pub fn parse(raw: &str) -> Result<Phone, FieldError> {
        let mut s = PlainText::token(raw, "phone", 40, "err.phone.format", &['-'])?;
        if let Some(rest) = s.strip_prefix("+86") {
            s = rest.to_string();
        } else if s.len() == 13 && s.starts_with("86") {
            s = s[2..].to_string();
        }
        let b = s.as_bytes();
        if s.is_empty() {
            return Err(FieldError::new("phone", "err.phone.empty"));
        }
        if b.len() != 11
            || !b.iter().all(u8::is_ascii_digit)
            || b[0] != b'1'
            || !(b'3'..=b'9').contains(&b[1])
        {
            return Err(FieldError::new("phone", "err.phone.format"));
        }
        Ok(Phone(s))
    }

    /// The 11 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address: one `@`, a dotted domain, no spaces, at most 254 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parse an email address; the domain is lower-cased.
    pub fn parse(raw: &str) -> Result<Email, FieldError> {
        let text = PlainText::parse(raw, TextRule::line("email", 254))
            .map_err(|e| e.or_key("err.email.format"))?;
        let s = text.as_str();
        if s.is_empty() {
            return Err(FieldError::new("email", "err.email.empty"));
        }
        let bad = || FieldError::new("email", "err.email.format");
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.chars().any(|c| "<>()[]\\,;:\"@".contains(c));
        if !domain_ok || !local_ok {
            return Err(bad());
        }
        Ok(Email(format!("{local}@{}", domain.to_lowercase())))
    }

    /// An address that may be left blank (a walk-in at the desk): blank is no address, and
    /// nothing is mailed to it; anything typed must be an address.
    pub fn optional(raw: &str) -> Result<Email, FieldError> {
        match crate::domain::text::clean(raw) {
            Some("") => Ok(Email(String::new())),
            _ => Email::parse(raw),
        }
    }

    /// Whether there is no address (only [`Email::optional`] gives one).
    pub fn is_none(&self) -> bool {
        self.0.is_empty()
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address with most of its local part hidden, as staff pages list a recipient:
/// `wa***@example.com`.
pub fn mask_email(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            format!("{}***@{domain}", local.chars().take(2).collect::<String>())
        }
        None => "***".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_in_any_script_are_accepted_and_markup_is_not() {
        assert_eq!(
            PersonName::parse("  王  小明 ").unwrap().as_str(),
            "王 小明"
        );
        assert!(PersonName::parse("Anne-Marie O'Neil").is_ok());
        assert!(PersonName::parse("阿卜杜·热合曼").is_ok());
        let long = "名".repeat(51);
        for (typed, key) in [
            ("", "err.name.empty"),
            ("<script>alert(1)</script>", "err.name.chars"),
            ("x'); DROP TABLE residents;--", "err.name.chars"),
            (long.as_str(), "err.name.long"),
        ] {
            assert_eq!(PersonName::parse(typed).unwrap_err().key, key, "{typed:?}");
        }
    }

    #[test]
    fn a_masked_address_keeps_two_characters_and_the_domain() {
        assert_eq!(mask_email("wang@example.com"), "wa***@example.com");
        assert_eq!(mask_email("王小明@例子.cn"), "王小***@例子.cn");
        assert_eq!(mask_email("not an address"), "***");
    }

    #[test]
    fn phones_are_mainland_mobiles() {
        for typed in ["138 0013 8000", "+86 138-0013-8000", "8613800138000"] {
            assert_eq!(Phone::parse(typed).unwrap().as_str(), "13800138000");
        }
        for (typed, key) in [
            ("12800138000", "err.phone.format"),
            ("1380013800", "err.phone.format"),
            ("", "err.phone.empty"),
        ] {
            assert_eq!(Phone::parse(typed).unwrap_err().key, key, "{typed:?}");
        }
    }

    #[test]
    fn control_and_text_direction_characters_are_refused_by_every_contact_type() {
        for bad in ["王\0小明", "王\u{202E}小明", "\u{2066}Li\u{2069}"] {
            assert_eq!(PersonName::parse(bad).unwrap_err().key, "err.text.chars");
        }
        for bad in ["138\u{0}00138000", "\u{202E}13800138000"] {
            assert_eq!(Phone::parse(bad).unwrap_err().key, "err.text.chars");
        }
        for bad in [
            "li@example.com\u{202E}",
            "\u{202E}moc.elpmaxe@il",
            "li\u{2067}@example.com",
            "li@exa\0mple.com",
            "li@example.com\r\nBcc: x@evil.example",
        ] {
            let e = Email::parse(bad).unwrap_err();
            assert_eq!((e.field, e.key), ("email", "err.text.chars"), "{bad:?}");
        }
        assert_eq!(
            Email::parse(&format!("{}@example.com", "a".repeat(300)))
                .unwrap_err()
                .key,
            "err.email.format"
        );
    }

    #[test]
    fn emails_need_a_dotted_domain() {
        assert_eq!(
            Email::parse(" Li@Example.COM ").unwrap().as_str(),
            "Li@example.com"
        );
        assert!(Email::parse("李@例子.中国").is_ok());
        for bad in ["a", "a@b", "a@.b.c", "a b@c.d", "<a>@c.d", "a@c..d", "@c.d"] {
            assert_eq!(
                Email::parse(bad).unwrap_err().key,
                "err.email.format",
                "{bad}"
            );
        }
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,80}") {
            let _ = PersonName::parse(&s);
            let _ = Phone::parse(&s);
            let _ = Email::parse(&s);
        }
    }
}
