//! A calendar entry (RFC 5545) for an appointment, with the site as LOCATION and a reminder alarm.

use chrono::NaiveDateTime;

/// What the calendar entry says.
pub struct Event<'a> {
    pub uid: String,
    pub sequence: i64,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub stamp: NaiveDateTime,
    pub summary: &'a str,
    pub location: &'a str,
    pub description: &'a str,
    pub cancelled: bool,
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\r', "")
        .replace('\n', "\\n")
}

fn utc(t: NaiveDateTime) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Fold a content line at 75 octets without splitting a UTF-8 character.
fn fold(line: &str, out: &mut String) {
    let mut width = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

/// The `.ics` text, CRLF line ends.
pub fn render(e: &Event<'_>) -> String {
    let lines = [
        "BEGIN:VCALENDAR".to_string(),
        "VERSION:2.0".into(),
        "PRODID:-//Dosewise//Appointments//EN".into(),
        format!("METHOD:{}", if e.cancelled { "CANCEL" } else { "REQUEST" }),
        "BEGIN:VEVENT".into(),
        format!("UID:{}", e.uid),
        format!("SEQUENCE:{}", e.sequence),
        format!("DTSTAMP:{}", utc(e.stamp)),
        format!("DTSTART:{}", utc(e.start)),
        format!("DTEND:{}", utc(e.end)),
        format!("SUMMARY:{}", escape(e.summary)),
        format!("LOCATION:{}", escape(e.location)),
        format!("DESCRIPTION:{}", escape(e.description)),
        format!(
            "STATUS:{}",
            if e.cancelled {
                "CANCELLED"
            } else {
                "CONFIRMED"
            }
        ),
        "BEGIN:VALARM".into(),
        "TRIGGER:-PT2H".into(),
        "ACTION:DISPLAY".into(),
        format!("DESCRIPTION:{}", escape(e.summary)),
        "END:VALARM".into(),
        "END:VEVENT".into(),
        "END:VCALENDAR".into(),
    ];
    let mut out = String::new();
    for l in lines {
        fold(&l, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn lines_are_escaped_folded_and_crlf() {
        let t = NaiveDate::from_ymd_opt(2030, 3, 4)
            .unwrap()
            .and_hms_opt(2, 0, 0)
            .unwrap();
        let long = "人民路1号, 城关镇; 社区卫生服务中心".repeat(3);
        let s = render(&Event {
            uid: "1@dosewise".into(),
            sequence: 0,
            start: t,
            end: t + chrono::Duration::minutes(30),
            stamp: t,
            summary: "接种预约",
            location: &long,
            description: "code ABCD-1234",
            cancelled: false,
        });
        assert!(s.starts_with("BEGIN:VCALENDAR\r\n"));
        assert!(s.contains("DTSTART:20300304T020000Z\r\n"));
        assert!(s.contains("LOCATION:人民路1号\\, 城关镇\\; "));
        assert!(s.contains("BEGIN:VALARM"));
        for line in s.split("\r\n") {
            assert!(line.len() <= 75, "{line}");
        }
        assert!(!s.replace("\r\n", "").contains('\n'));
    }
}
