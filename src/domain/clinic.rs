//! What clinic staff type at the desk, parsed: screening answers and the decision they lead to,
//! the last four characters of an ID number, reaction severities, kinds of wastage, dose counts,
//! notes and clock times.

use chrono::NaiveTime;

use super::{text, FieldError, PlainText, TextRule};

/// The screening questions' answers (true = yes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScreeningAnswers {
    pub fever: bool,
    pub allergy: bool,
    pub pregnant: bool,
    pub recent_vaccine: bool,
}

impl ScreeningAnswers {
    /// Whether any answer calls for a decision by staff.
    pub fn any_yes(&self) -> bool {
        self.fever || self.allergy || self.pregnant || self.recent_vaccine
    }
}

/// What staff chose after the screening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go on to the dose.
    Proceed,
    /// Not today.
    Defer,
}

impl Decision {
    /// Parse the form value; empty means "not chosen".
    pub fn parse(raw: &str) -> Result<Option<Decision>, FieldError> {
        match text::clean(raw).unwrap_or("?") {
            "" => Ok(None),
            "proceed" => Ok(Some(Decision::Proceed)),
            "defer" => Ok(Some(Decision::Defer)),
            _ => Err(FieldError::new("decision", "clinic.err.decide")),
        }
    }
}

/// The screening's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScreeningOutcome {
    /// Cleared for the dose.
    Cleared,
    /// Deferred, with the reason staff gave.
    Deferred(Note),
}

impl ScreeningOutcome {
    /// The stored text.
    pub fn as_str(&self) -> &'static str {
        match self {
            ScreeningOutcome::Cleared => "cleared",
            ScreeningOutcome::Deferred(_) => "deferred",
        }
    }
}

/// The rule: no "yes" clears the resident; any "yes" needs staff to decide; a fever always
/// defers; a deferral needs a reason.
pub fn screening_outcome(
    answers: ScreeningAnswers,
    decision: Option<Decision>,
    reason: &str,
) -> Result<ScreeningOutcome, FieldError> {
    match decision {
        Some(Decision::Defer) => Note::parse(reason, "reason").map(ScreeningOutcome::Deferred),
        None if answers.any_yes() => Err(FieldError::new("decision", "clinic.err.decide")),
        Some(Decision::Proceed) if answers.fever => {
            Err(FieldError::new("decision", "clinic.err.fever_defers"))
        }
        _ => Ok(ScreeningOutcome::Cleared),
    }
}

/// The choice of `all` whose stored text (`as_str`) the form value is.
fn one_of<T: Copy, const N: usize>(
    all: [T; N],
    as_str: fn(T) -> &'static str,
    raw: &str,
) -> Option<T> {
    let raw = text::clean(raw)?;
    all.into_iter().find(|c| as_str(*c) == raw)
}

/// A yes/no answer from a radio group; no answer is an error.
pub fn parse_yes_no(raw: &str, field: &'static str) -> Result<bool, FieldError> {
    match text::clean(raw).unwrap_or_default() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(FieldError::new(field, "clinic.err.answer")),
    }
}

/// The last four characters of an ID number, as staff read them off the card.
pub fn parse_last4(raw: &str) -> Result<String, FieldError> {
    let s = PlainText::token(raw, "last4", 20, "clinic.err.last4_format", &[])?;
    let ok = s.len() == 4
        && s.bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_digit() || (i == 3 && b == b'X'));
    if ok {
        Ok(s)
    } else {
        Err(FieldError::new("last4", "clinic.err.last4_format"))
    }
}

/// A short free text (a reason, symptoms, the action taken): [`PlainText`] of 1 to 500
/// characters, on several lines if need be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note(String);

impl Note {
    /// Parse the text of `field`.
    pub fn parse(raw: &str, field: &'static str) -> Result<Note, FieldError> {
        let t =
            PlainText::parse(raw, TextRule::lines(field, 500).required()).map_err(|e| {
                match e.key {
                    text::EMPTY => e.or_key("clinic.err.note_empty"),
                    _ => e.or_key("clinic.err.note_long"),
                }
            })?;
        Ok(Note(t.into_string()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How bad a reaction is, from a fixed list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Mild,
    Moderate,
    Severe,
}

impl Severity {
    /// Every severity, mildest first.
    pub const ALL: [Severity; 3] = [Severity::Mild, Severity::Moderate, Severity::Severe];

    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Mild => "mild",
            Severity::Moderate => "moderate",
            Severity::Severe => "severe",
        }
    }

    /// Parse the form value.
    pub fn parse(raw: &str) -> Result<Severity, FieldError> {
        one_of(Severity::ALL, Severity::as_str, raw)
            .ok_or(FieldError::new("severity", "clinic.err.severity"))
    }
}

/// Why doses were wasted, from a fixed list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WasteKind {
    OpenedVialExpired,
    Broken,
    ColdChain,
    Other,
}

impl WasteKind {
    /// Every kind.
    pub const ALL: [WasteKind; 4] = [
        WasteKind::OpenedVialExpired,
        WasteKind::Broken,
        WasteKind::ColdChain,
        WasteKind::Other,
    ];

    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            WasteKind::OpenedVialExpired => "opened_vial_expired",
            WasteKind::Broken => "broken",
            WasteKind::ColdChain => "cold_chain",
            WasteKind::Other => "other",
        }
    }

    /// Parse the form value.
    pub fn parse(raw: &str) -> Result<WasteKind, FieldError> {
        one_of(WasteKind::ALL, WasteKind::as_str, raw)
            .ok_or(FieldError::new("kind", "clinic.err.waste_kind"))
    }
}

/// A number of doses wasted at once: 1 to 1000.
pub fn parse_doses(raw: &str) -> Result<i32, FieldError> {
    match text::clean(raw).map(str::parse::<i32>) {
        Some(Ok(n)) if (1..=1000).contains(&n) => Ok(n),
        _ => Err(FieldError::new("doses", "clinic.err.doses")),
    }
}

/// A clock time `HH:MM` typed at the desk (read in the city's zone by the caller).
pub fn parse_clock_time(raw: &str, field: &'static str) -> Result<NaiveTime, FieldError> {
    text::clean(raw)
        .and_then(|s| NaiveTime::parse_from_str(s, "%H:%M").ok())
        .ok_or(FieldError::new(field, "clinic.err.time"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NONE: ScreeningAnswers = ScreeningAnswers {
        fever: false,
        allergy: false,
        pregnant: false,
        recent_vaccine: false,
    };

    #[test]
    fn screening_with_no_yes_clears_and_any_yes_needs_a_decision() {
        assert_eq!(
            screening_outcome(NONE, None, ""),
            Ok(ScreeningOutcome::Cleared)
        );
        let allergy = ScreeningAnswers {
            allergy: true,
            ..NONE
        };
        assert_eq!(
            screening_outcome(allergy, None, "").unwrap_err().key,
            "clinic.err.decide"
        );
        assert_eq!(
            screening_outcome(allergy, Some(Decision::Proceed), ""),
            Ok(ScreeningOutcome::Cleared)
        );
    }

    #[test]
    fn a_fever_always_defers_and_a_deferral_needs_a_reason() {
        let fever = ScreeningAnswers {
            fever: true,
            ..NONE
        };
        assert_eq!(
            screening_outcome(fever, Some(Decision::Proceed), "")
                .unwrap_err()
                .key,
            "clinic.err.fever_defers"
        );
        assert_eq!(
            screening_outcome(fever, Some(Decision::Defer), "  ")
                .unwrap_err()
                .field,
            "reason"
        );
        assert!(matches!(
            screening_outcome(fever, Some(Decision::Defer), "38.5 °C"),
            Ok(ScreeningOutcome::Deferred(n)) if n.as_str() == "38.5 °C"
        ));
    }

    #[test]
    fn notes_refuse_control_and_text_direction_characters() {
        assert_eq!(
            Note::parse("发热\0", "reason").unwrap_err().key,
            "err.text.chars"
        );
        assert_eq!(
            Note::parse("\u{202E}发热", "reason").unwrap_err().key,
            "err.text.chars"
        );
        assert_eq!(
            Note::parse("发热\r\n38.5 °C", "reason").unwrap().as_str(),
            "发热\n38.5 °C"
        );
        assert_eq!(
            Note::parse(&"x".repeat(501), "reason").unwrap_err().key,
            "clinic.err.note_long"
        );
    }

    #[test]
    fn last4_accepts_digits_and_a_final_x_only() {
        assert_eq!(parse_last4(" 123x ").unwrap(), "123X");
        assert_eq!(parse_last4("0001").unwrap(), "0001");
        for bad in ["", "123", "12345", "X123", "12a4", "一二三四"] {
            assert!(parse_last4(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fixed_lists_parse_only_their_values() {
        assert_eq!(Severity::parse("severe"), Ok(Severity::Severe));
        assert!(Severity::parse("deadly").is_err());
        assert_eq!(WasteKind::parse("cold_chain"), Ok(WasteKind::ColdChain));
        assert!(WasteKind::parse("").is_err());
        assert_eq!(parse_doses("3"), Ok(3));
        for bad in ["0", "-1", "1001", "x", ""] {
            assert!(parse_doses(bad).is_err(), "{bad}");
        }
        assert!(parse_clock_time("09:30", "t").is_ok());
        assert!(parse_clock_time("25:00", "t").is_err());
    }

    proptest! {
        #[test]
        fn notes_never_panic_and_keep_their_trimmed_text(s in "\\PC{0,600}") {
            match Note::parse(&s, "reason") {
                Ok(n) => prop_assert_eq!(n.as_str(), s.trim()),
                Err(e) => prop_assert_eq!(e.field, "reason"),
            }
        }

        #[test]
        fn last4_never_panics(s in "\\PC{0,10}") {
            let _ = parse_last4(&s);
        }
    }
}
