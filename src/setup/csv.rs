//! The CSV import of towns and sites: a small RFC 4180 reader (commas, double quotes, doubled
//! quotes inside quotes, CRLF or LF) and the row-by-row rules. An import with any bad row writes
//! nothing and names every problem with its line number.
//!
//! The format (README.md, and `/admin/import/example.csv`): a header line
//! `type,town_code,name,eligible,contact_emails,address`, then one row per town
//! (`town,CODE,NAME,ELIGIBLE,EMAILS,`) or site (`site,TOWN_CODE,NAME,,,ADDRESS`). A site's town
//! is a town of the same file or one that exists already. Emails are separated by `;`.
//! Two optional columns may follow, `name_en,address_en` (English names, issue 13): a town may
//! give `name_en`, a site both; files without them import as before.

use std::collections::{BTreeSet, HashMap};

use super::SetupError;
use crate::db::{AnyConnection, Db};
use crate::domain::city::{parse_emails, parse_text, relabel, Code, Eligible};
use crate::domain::text;
use crate::ids::new_id;
use crate::models::{audit, site, town, NewSite, NewTown};
use chrono::NaiveDateTime;

/// The header every import starts with.
pub const HEADER: [&str; 6] = [
    "type",
    "town_code",
    "name",
    "eligible",
    "contact_emails",
    "address",
];

/// The optional columns after [`HEADER`]: the English name and address.
pub const HEADER_EN: [&str; 2] = ["name_en", "address_en"];

/// The downloadable example.
pub const EXAMPLE_CSV: &str = "type,town_code,name,eligible,contact_emails,address,name_en,address_en
town,T001,城关镇,120000,office@t001.example.cn;chief@t001.example.cn,,Chengguan Town,
town,T002,东湖镇,56000,office@t002.example.cn,,,
site,T001,城关社区卫生服务中心,,,人民路10号,Chengguan Community Health Centre,10 Renmin Road
site,T001,\"城关体育馆临时接种点, 北门\",,,\"解放路8号\",\"Chengguan Sports Hall, North Gate\",8 Jiefang Road
site,T002,东湖镇卫生院,,,建设路3号,,
";

/// What an import wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub towns: usize,
    pub sites: usize,
}

/// A CSV record: the line it starts on and its fields.
pub type Record = (usize, Vec<String>);

/// Split CSV text into records, each with the line it starts on. A quote left open is an error
/// on the line it opened.
pub fn parse_csv_rows(text: &str) -> Result<Vec<Record>, (usize, String)> {
    let mut rows = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut quote_line = 0;
    let mut line = 1;
    let mut start = 1;
    let mut chars = text.trim_start_matches('\u{feff}').chars().peekable();
    let mut any = false;
    while let Some(ch) = chars.next() {
        if quoted {
            match ch {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                c => field.push(c),
            }
            continue;
        }
        match ch {
            '"' if field.trim().is_empty() => {
                field.clear();
                quoted = true;
                quote_line = line;
                any = true;
            }
            ',' => {
                fields.push(std::mem::take(&mut field));
                any = true;
            }
            '\r' => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                if any || fields.iter().any(|f| !f.trim().is_empty()) {
                    rows.push((start, std::mem::take(&mut fields)));
                }
                fields.clear();
                any = false;
                line += 1;
                start = line;
            }
            c => {
                field.push(c);
                any = true;
            }
        }
    }
    if quoted {
        return Err((quote_line, "unclosed quote".into()));
    }
    fields.push(field);
    if any || fields.iter().any(|f| !f.trim().is_empty()) {
        rows.push((start, fields));
    }
    Ok(rows)
}

/// A row that passed its own checks.
enum Row {
    Town(usize, NewTown),
    Site(usize, String, NewSite),
}

/// Check every row on its own and against the file: the rows that passed, and the problems
/// (line, catalogue key) of the others. A malformed file is one problem. Nothing is written.
fn check_rows(text: &str) -> (Vec<Row>, Vec<(usize, String)>) {
    match check_file(text) {
        Ok(r) => r,
        Err(problem) => (Vec::new(), vec![problem]),
    }
}

type Checked = (Vec<Row>, Vec<(usize, String)>);

fn check_file(text: &str) -> Result<Checked, (usize, String)> {
    let rows = parse_csv_rows(text).map_err(|(l, _)| (l, "err.import.quote".to_string()))?;
    let mut problems: Vec<(usize, String)> = Vec::new();
    let mut it = rows.into_iter();
    let with_english = HEADER.iter().chain(HEADER_EN.iter());
    let width = match it.next() {
        Some((l, h)) if h.iter().any(|f| text::clean(f).is_none()) => {
            return Err((l, text::CHARS.into()))
        }
        Some((_, h)) if h.iter().map(|f| f.trim().to_ascii_lowercase()).eq(HEADER) => HEADER.len(),
        Some((_, h))
            if h.iter()
                .map(|f| f.trim().to_ascii_lowercase())
                .eq(with_english.map(|c| c.to_string())) =>
        {
            HEADER.len() + HEADER_EN.len()
        }
        Some((l, _)) => return Err((l, "err.import.header".into())),
        None => return Err((1, "err.import.empty".into())),
    };
    let mut out = Vec::new();
    let mut codes = BTreeSet::new();
    let mut site_names = BTreeSet::new();
    for (line, f) in it {
        let mut bad = |key: &str| problems.push((line, key.to_string()));
        if f.len() != width {
            bad("err.import.columns");
            continue;
        }
        // Every cell is plain text: one line, no control or text-direction characters.
        if f.iter().any(|cell| text::clean(cell).is_none()) {
            bad(text::CHARS);
            continue;
        }
        let get = |i: usize| f.get(i).map_or("", |c| c.trim());
        let name_en = optional_text(get(6), 60, "err.import.name").map_err(&mut bad);
        match get(0).to_ascii_lowercase().as_str() {
            "town" => {
                let (code, name) = code_and_name(get(1), get(2), &mut bad);
                let eligible = Eligible::parse(get(3)).ok().map(Eligible::get);
                let emails = parse_emails(get(4), "err.import.emails")
                    .map_err(&mut bad)
                    .ok();
                if eligible.is_none() {
                    bad("err.import.eligible");
                }
                if !get(5).is_empty() || !get(7).is_empty() {
                    bad("err.import.town_address");
                }
                if let (Some(code), Some(name), Some(eligible), Some(emails), Ok(name_en)) =
                    (code, name, eligible, emails, name_en)
                {
                    if !codes.insert(code.clone()) {
                        bad("err.import.duplicate_town");
                        continue;
                    }
                    out.push(Row::Town(
                        line,
                        NewTown {
                            id: new_id(),
                            code,
                            name,
                            eligible,
                            contact_emails: emails,
                            active: true,
                            name_en,
                        },
                    ));
                }
            }
            "site" => {
                let (code, name) = code_and_name(get(1), get(2), &mut bad);
                let address = parse_text(get(5), 120, "err.import.address")
                    .map_err(&mut bad)
                    .ok();
                let address_en = optional_text(get(7), 120, "err.import.address").map_err(&mut bad);
                if !get(3).is_empty() || !get(4).is_empty() {
                    bad("err.import.site_extra");
                }
                if let (Some(code), Some(name), Some(address), Ok(name_en), Ok(address_en)) =
                    (code, name, address, name_en, address_en)
                {
                    if !site_names.insert((code.clone(), name.clone())) {
                        bad("err.import.duplicate_site");
                        continue;
                    }
                    out.push(Row::Site(
                        line,
                        code,
                        NewSite {
                            id: new_id(),
                            town_id: 0,
                            name,
                            address,
                            active: true,
                            name_en,
                            address_en,
                        },
                    ));
                }
            }
            _ => bad("err.import.type"),
        }
    }
    if out.is_empty() && problems.is_empty() {
        problems.push((1, "err.import.empty".into()));
    }
    Ok((out, problems))
}

/// An optional cell: `None` when empty, else checked as [`parse_text`].
fn optional_text(raw: &str, max: usize, key: &'static str) -> Result<Option<String>, &'static str> {
    if raw.is_empty() {
        return Ok(None);
    }
    parse_text(raw, max, key).map(Some)
}

/// Columns 2 and 3 of a town or site row: its (town's) code and its name, each refusal noted
/// through `bad`.
fn code_and_name(
    code: &str,
    name: &str,
    mut bad: impl FnMut(&'static str),
) -> (Option<String>, Option<String>) {
    let code = Code::parse(code)
        .map(Code::into_string)
        .map_err(|k| bad(relabel(k, "err.import.code")))
        .ok();
    let name = parse_text(name, 60, "err.import.name")
        .map_err(&mut bad)
        .ok();
    (code, name)
}

/// Import towns and sites: every row is checked (against the file and the database) before
/// anything is written, and everything is written in one transaction with audit entries.
pub fn import_csv(
    db: &Db,
    text: &str,
    actor: &str,
    now: NaiveDateTime,
) -> Result<ImportReport, SetupError> {
    let (rows, mut problems) = check_rows(text);
    if rows.is_empty() {
        return Err(SetupError::Import(problems));
    }
    let actor = actor.to_string();
    db.transaction(move |c| {
        // Every town's id by its code: the database's, then the file's new ones.
        let mut town_ids: HashMap<String, i64> = town::list_all(c)?
            .into_iter()
            .map(|t| (t.code, t.id))
            .collect();
        for row in &rows {
            if let Row::Town(line, t) = row {
                if town_ids.contains_key(&t.code) {
                    problems.push((*line, "err.import.town_exists".to_string()));
                } else {
                    town_ids.insert(t.code.clone(), t.id);
                }
            }
        }
        let existing_sites = site::list_all(c)?;
        for row in &rows {
            if let Row::Site(line, code, s) = row {
                match town_ids.get(code).copied() {
                    None => problems.push((*line, "err.import.unknown_town".to_string())),
                    Some(tid) => {
                        if existing_sites
                            .iter()
                            .any(|e| e.town_id == tid && e.name == s.name)
                        {
                            problems.push((*line, "err.import.site_exists".to_string()));
                        }
                    }
                }
            }
        }
        if !problems.is_empty() {
            problems.sort();
            return Err(SetupError::Import(problems));
        }
        let record = |c: &mut AnyConnection, action: &str, subject: String, detail: String| {
            audit::record(c, now, &actor, action, &subject, &detail)
        };
        let mut report = ImportReport::default();
        for row in &rows {
            if let Row::Town(_, t) = row {
                town::insert(c, t)?;
                let detail = format!("{}; eligible {}", t.name, t.eligible);
                record(c, "towns.import", format!("town {}", t.code), detail)?;
                report.towns += 1;
            }
        }
        for row in &rows {
            if let Row::Site(_, code, s) = row {
                // Every site's town was found above, or the import stopped.
                let town_id = *town_ids.get(code).ok_or(diesel::result::Error::NotFound)?;
                let s = NewSite {
                    town_id,
                    ..s.clone()
                };
                site::insert(c, &s)?;
                let detail = format!("{} in {code}; {}", s.name, s.address);
                record(c, "sites.import", format!("site {}", s.id), detail)?;
                report.sites += 1;
            }
        }
        Ok(report)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_keep_commas_quotes_and_their_line() {
        let rows =
            parse_csv_rows("a,b\n\"x, y\",\"say \"\"hi\"\"\"\n\nc,\"two\nlines\"\nd,e").unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(
            rows[1],
            (2, vec!["x, y".to_string(), "say \"hi\"".to_string()])
        );
        assert_eq!(rows[2].0, 4);
        assert_eq!(rows[3], (6, vec!["d".to_string(), "e".to_string()]));
        assert_eq!(parse_csv_rows("a\n\"open").unwrap_err().0, 2);
    }

    #[test]
    fn the_example_passes_its_own_checks() {
        let (rows, problems) = check_rows(EXAMPLE_CSV);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(rows.len(), 5);
    }

    #[test]
    fn english_columns_are_optional_and_read_when_given() {
        let (rows, problems) = check_rows(
            "type,town_code,name,eligible,contact_emails,address,name_en,address_en\n\
             town,T1,城关镇,10,,,Chengguan,\n\
             site,T1,卫生院,,,人民路1号,,\n\
             town,T2,东湖镇,10,,,,Somewhere\n",
        );
        assert_eq!(problems, vec![(4, "err.import.town_address".to_string())]);
        match &rows[..] {
            [Row::Town(_, t), Row::Site(_, _, s), ..] => {
                assert_eq!(t.name_en.as_deref(), Some("Chengguan"));
                assert_eq!(
                    (s.name_en.as_deref(), s.address_en.as_deref()),
                    (None, None)
                );
            }
            _ => panic!("a town and a site first"),
        }
    }

    #[test]
    fn every_bad_row_is_named() {
        let text = "type,town_code,name,eligible,contact_emails,address\n\
                    town,T 1,X,10,,\n\
                    town,T2,,ten,bad,\n\
                    site,T2,Y,,,\n\
                    moon,T2,Z,,,A\n\
                    town,T3,Z,1\n";
        let lines: Vec<usize> = check_rows(text).1.iter().map(|p| p.0).collect();
        assert!(
            [2, 3, 4, 5, 6].iter().all(|l| lines.contains(l)),
            "{lines:?}"
        );
    }

    #[test]
    fn control_and_text_direction_characters_are_named_with_their_line() {
        let text = "type,town_code,name,eligible,contact_emails,address\n\
                    town,T1,城关\u{202E}镇,10,,\n\
                    town,T2,东湖镇,10,a@b.cn\u{0},\n\
                    site,T1,\"卫生院\n二楼\",,,人民路1号\n\
                    town,T4,西湖镇,10\u{c},,\n";
        let (rows, problems) = check_rows(text);
        assert!(rows.is_empty());
        assert_eq!(
            problems,
            [2, 3, 4, 6].map(|l| (l, text::CHARS.to_string())).to_vec()
        );
    }
}
