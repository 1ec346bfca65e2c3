//! The bureau's dashboard (`/bureau`): each figure of a [`Dashboard`] as a chart
//! (`views::chart`), a headline, a note on how it is counted, a data table for screen readers
//! and a link to the rows behind it (a CSV export with the same town and days).

use std::collections::BTreeMap;

use askama::Template;
use chrono::{Datelike, NaiveDate};

use super::chart::{Chart, Kind, Series};
use super::layout::Layout;
use crate::domain::clinic::Severity;
use crate::i18n::{day_label, Lang};
use crate::models::dashboard::{Dashboard, SiteStock, DUE_ALREADY, RATE_DAYS};
use crate::models::{in_lang, LocalName};

/// One row of a figure's data table.
pub struct Row {
    /// A stable key (an ISO date, a town or site id, a severity) for tests and links.
    pub key: String,
    pub label: String,
    pub cells: Vec<String>,
}

/// One figure: chart, numbers and where they come from.
pub struct Figure {
    pub id: &'static str,
    pub title: &'static str,
    pub summary: String,
    pub note: String,
    pub svg: String,
    /// Column headings, the row heading's first.
    pub head: Vec<String>,
    pub rows: Vec<Row>,
    /// The rows behind the figure.
    pub link: String,
}

/// The dashboard page.
#[derive(Template)]
#[template(path = "bureau/dashboard.html")]
pub struct DashboardPage {
    pub ctx: Layout,
    /// (id, name) of each active town, for the selector.
    pub towns: Vec<(String, String)>,
    /// The selected town's id, or "" for the city.
    pub town: String,
    /// The city or the town's name.
    pub scope_name: String,
    pub today: String,
    pub figures: Vec<Figure>,
    /// The severe reactions of the last 7 days (heading, then one row each).
    pub severe: Vec<(String, String)>,
}

/// A share as a percentage with two decimals ("0.00%" when there is no whole).
fn pct(part: i64, whole: i64) -> String {
    format!("{:.2}%", share(part, whole))
}

/// A share in percent (0 when there is no whole).
fn share(part: i64, whole: i64) -> f64 {
    if whole > 0 {
        part as f64 * 100.0 / whole as f64
    } else {
        0.0
    }
}

/// `m/d`, short enough for the bottom of a chart in either language.
fn short_day(d: NaiveDate) -> String {
    format!("{}/{}", d.month(), d.day())
}

/// The chart labels of `days`.
fn short_days(days: &[NaiveDate]) -> Vec<String> {
    days.iter().map(|d| short_day(*d)).collect()
}

/// Counts by day index: each `(day, n)` added at its day; days outside `0..len` left out.
fn by_day(len: usize, rows: impl Iterator<Item = (i32, i64)>) -> Vec<i64> {
    let mut v = vec![0; len];
    for (day, n) in rows {
        if let Some(i) = usize::try_from(day).ok().filter(|i| *i < len) {
            v[i] += n;
        }
    }
    v
}

/// A figure before its chart is drawn (`Build::figure`).
struct Draft {
    id: &'static str,
    /// The title's catalogue key.
    title: &'static str,
    summary: String,
    note: String,
    /// The chart: its categories, series, how they are drawn, values in percent or not.
    labels: Vec<String>,
    series: Vec<Series>,
    kind: Kind,
    percent: bool,
    head: Vec<String>,
    rows: Vec<Row>,
    link: String,
}

/// Doses given per day of the history.
struct PerDay {
    /// First doses.
    first: Vec<i64>,
    /// Doses that complete a series.
    full: Vec<i64>,
    /// Every dose, by dose number (1 and 2 always).
    by_dose: BTreeMap<i32, Vec<i64>>,
    /// First doses before the first day.
    first_before: i64,
    /// Series completed before the first day.
    full_before: i64,
}

/// What one page builds its figures from.
struct Build<'a> {
    d: &'a Dashboard,
    lang: Lang,
}

impl Build<'_> {
    fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    fn head(&self, keys: &[&str]) -> Vec<String> {
        keys.iter().map(|k| self.t(k).to_string()).collect()
    }

    /// `/bureau/exports/{name}.csv` with the scope's town and the days given.
    fn csv(&self, name: &str, days: Option<(NaiveDate, NaiveDate)>) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(t) = self.d.scope.town {
            pairs.push(("town", t.to_string()));
        }
        if let Some((from, to)) = days {
            pairs.push(("from", from.to_string()));
            pairs.push(("to", to.to_string()));
        }
        let q = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        if q.is_empty() {
            format!("/bureau/exports/{name}.csv")
        } else {
            format!("/bureau/exports/{name}.csv?{q}")
        }
    }

    fn history_span(&self) -> Option<(NaiveDate, NaiveDate)> {
        Some((*self.d.history.first()?, *self.d.history.last()?))
    }

    fn ahead_span(&self) -> Option<(NaiveDate, NaiveDate)> {
        Some((*self.d.ahead.first()?, *self.d.ahead.last()?))
    }

    /// One table row per day of `days`, its cells from the day's index.
    fn day_rows(&self, days: &[NaiveDate], cells: impl Fn(usize) -> Vec<String>) -> Vec<Row> {
        (days.iter().enumerate())
            .map(|(i, day)| Row {
                key: day.to_string(),
                label: day_label(self.lang, *day),
                cells: cells(i),
            })
            .collect()
    }

    /// The figure `draft` describes: its chart drawn with the summary as the chart's description.
    fn figure(&self, draft: Draft) -> Figure {
        let title = self.t(draft.title);
        let chart = Chart {
            id: format!("chart-{}", draft.id),
            title: title.to_string(),
            desc: draft.summary.clone(),
            labels: draft.labels,
            series: draft.series,
            kind: draft.kind,
            percent: draft.percent,
        };
        Figure {
            id: draft.id,
            title,
            summary: draft.summary,
            note: draft.note,
            svg: chart.svg(),
            head: draft.head,
            rows: draft.rows,
            link: draft.link,
        }
    }

    fn series(&self, key: &str, values: Vec<f64>) -> Series {
        Series {
            name: self.t(key).to_string(),
            values,
        }
    }

    /// A series of counts.
    fn counts(&self, key: &str, values: &[i64]) -> Series {
        self.series(key, values.iter().map(|x| *x as f64).collect())
    }

    /// Doses of the history per day index, and those given before its first day.
    fn doses_per_day(&self) -> PerDay {
        let n = self.d.history.len();
        let (mut first, mut full) = (vec![0; n], vec![0; n]);
        let mut by_dose: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
        by_dose.insert(1, vec![0; n]);
        by_dose.insert(2, vec![0; n]);
        let (mut first_before, mut full_before) = (0, 0);
        for r in &self.d.doses {
            let Ok(i) = usize::try_from(r.day) else {
                first_before += if r.dose_number == 1 { r.n } else { 0 };
                full_before += if r.full_series == 1 { r.n } else { 0 };
                continue;
            };
            if i >= n {
                continue;
            }
            if r.dose_number == 1 {
                first[i] += r.n;
            }
            if r.full_series == 1 {
                full[i] += r.n;
            }
            by_dose.entry(r.dose_number).or_insert_with(|| vec![0; n])[i] += r.n;
        }
        PerDay {
            first,
            full,
            by_dose,
            first_before,
            full_before,
        }
    }

    fn coverage(&self) -> Figure {
        let per_day = self.doses_per_day();
        // Added up to the end of each day, from what was given before the first.
        let so_far = |before: i64, per_day: &[i64]| -> Vec<i64> {
            let sums = per_day.iter().scan(before, |sum, n| {
                *sum += n;
                Some(*sum)
            });
            sums.collect()
        };
        let first = so_far(per_day.first_before, &per_day.first);
        let full = so_far(per_day.full_before, &per_day.full);
        let eligible = self.d.eligible;
        let rows = self.day_rows(&self.d.history, |i| {
            vec![
                first[i].to_string(),
                pct(first[i], eligible),
                full[i].to_string(),
                pct(full[i], eligible),
            ]
        });
        let percent = |v: &[i64]| v.iter().map(|n| share(*n, eligible)).collect();
        let cum_first = first.last().copied().unwrap_or(per_day.first_before);
        let cum_full = full.last().copied().unwrap_or(per_day.full_before);
        self.figure(Draft {
            id: "coverage",
            title: "dash.coverage",
            summary: self.lang.tf(
                "dash.coverage.summary",
                &[
                    ("first", &pct(cum_first, eligible)),
                    ("full", &pct(cum_full, eligible)),
                    ("eligible", &eligible.to_string()),
                ],
            ),
            note: self.t("dash.coverage.note").to_string(),
            labels: short_days(&self.d.history),
            series: vec![
                self.series("dash.first_dose", percent(&first)),
                self.series("dash.full_series", percent(&full)),
            ],
            kind: Kind::Lines,
            percent: true,
            head: self.head(&[
                "dash.day",
                "dash.first_doses_total",
                "dash.first_dose",
                "dash.full_series_total",
                "dash.full_series",
            ]),
            rows,
            link: self.csv("vaccinations", self.history_span()),
        })
    }

    fn doses(&self) -> Figure {
        let by_dose = self.doses_per_day().by_dose;
        let dose_n = |dose: &i32| self.lang.tf("dash.dose_n", &[("n", &dose.to_string())]);
        let rows = self.day_rows(&self.d.history, |i| {
            let mut cells: Vec<String> = by_dose.values().map(|v| v[i].to_string()).collect();
            cells.push(by_dose.values().map(|v| v[i]).sum::<i64>().to_string());
            cells
        });
        let total_all: i64 = by_dose.values().flatten().sum();
        let mut head = self.head(&["dash.day"]);
        head.extend(by_dose.keys().map(dose_n));
        head.push(self.t("dash.total").to_string());
        self.figure(Draft {
            id: "doses",
            title: "dash.doses",
            summary: self.lang.tf(
                "dash.doses.summary",
                &[
                    ("n", &total_all.to_string()),
                    ("days", &self.d.history.len().to_string()),
                ],
            ),
            note: self.t("dash.doses.note").to_string(),
            labels: short_days(&self.d.history),
            series: by_dose
                .iter()
                .map(|(dose, v)| Series {
                    name: dose_n(dose),
                    values: v.iter().map(|x| *x as f64).collect(),
                })
                .collect(),
            kind: Kind::Bars,
            percent: false,
            head,
            rows,
            link: self.csv("vaccinations", self.history_span()),
        })
    }

    fn seats(&self) -> Figure {
        let n = self.d.ahead.len();
        let seats = by_day(n, self.d.seats.iter().map(|r| (r.day, r.seats)));
        let booked = by_day(n, self.d.seats.iter().map(|r| (r.day, r.booked)));
        let rows = self.day_rows(&self.d.ahead, |i| {
            vec![
                seats[i].to_string(),
                booked[i].to_string(),
                (seats[i] - booked[i]).max(0).to_string(),
                pct(booked[i], seats[i]),
            ]
        });
        let (all_seats, all_booked) = (seats.iter().sum::<i64>(), booked.iter().sum::<i64>());
        self.figure(Draft {
            id: "seats",
            title: "dash.seats",
            summary: self.lang.tf(
                "dash.seats.summary",
                &[
                    ("booked", &all_booked.to_string()),
                    ("seats", &all_seats.to_string()),
                    ("share", &pct(all_booked, all_seats)),
                ],
            ),
            note: self.t("dash.seats.note").to_string(),
            labels: short_days(&self.d.ahead),
            series: vec![
                self.counts("dash.capacity", &seats),
                self.counts("dash.booked", &booked),
            ],
            kind: Kind::Bars,
            percent: false,
            head: self.head(&[
                "dash.day",
                "dash.capacity",
                "dash.booked",
                "dash.free",
                "dash.booked_share",
            ]),
            rows,
            link: self.csv("appointments", self.ahead_span()),
        })
    }

    fn due(&self) -> Figure {
        let n = self.d.ahead.len();
        let due = by_day(n, self.d.due.iter().map(|r| (r.day, r.n)));
        let already: i64 = (self.d.due.iter())
            .filter(|r| r.day == DUE_ALREADY)
            .map(|r| r.n)
            .sum();
        let held = by_day(n, self.d.seats.iter().map(|r| (r.day, r.held)));
        let booked = by_day(n, self.d.seats.iter().map(|r| (r.day, r.booked_second)));
        let mut rows = vec![Row {
            key: "already".into(),
            label: self.t("dash.due_already").to_string(),
            cells: vec![already.to_string(), "—".into(), "—".into()],
        }];
        rows.extend(self.day_rows(&self.d.ahead, |i| {
            vec![
                due[i].to_string(),
                held[i].to_string(),
                booked[i].to_string(),
            ]
        }));
        self.figure(Draft {
            id: "due",
            title: "dash.due",
            summary: self.lang.tf(
                "dash.due.summary",
                &[
                    ("due", &due.iter().sum::<i64>().to_string()),
                    ("held", &held.iter().sum::<i64>().to_string()),
                    ("already", &already.to_string()),
                ],
            ),
            note: self.t("dash.due.note").to_string(),
            labels: short_days(&self.d.ahead),
            series: vec![
                self.counts("dash.due_people", &due),
                self.counts("dash.held", &held),
            ],
            kind: Kind::Bars,
            percent: false,
            head: self.head(&[
                "dash.day",
                "dash.due_people",
                "dash.held",
                "dash.booked_second",
            ]),
            rows,
            link: self.csv("vaccinations", Some((self.d.due_from, self.d.due_to))),
        })
    }

    fn waiting(&self) -> Figure {
        let towns: Vec<_> = self
            .d
            .towns
            .iter()
            .filter(|t| self.d.scope.town.is_none_or(|id| id == t.id))
            .collect();
        let count = |town: i64, first: bool| -> i64 {
            self.d
                .waiting
                .iter()
                .filter(|w| w.town_id == town && (w.dose_number == 1) == first)
                .map(|w| w.n)
                .sum()
        };
        let first: Vec<i64> = towns.iter().map(|t| count(t.id, true)).collect();
        let later: Vec<i64> = towns.iter().map(|t| count(t.id, false)).collect();
        let rows = towns
            .iter()
            .enumerate()
            .map(|(i, t)| Row {
                key: t.id.to_string(),
                label: t.local_name(self.lang).to_string(),
                cells: vec![
                    first[i].to_string(),
                    later[i].to_string(),
                    (first[i] + later[i]).to_string(),
                ],
            })
            .collect();
        let total: i64 = first.iter().chain(later.iter()).sum();
        self.figure(Draft {
            id: "waiting",
            title: "dash.waiting",
            summary: (self.lang).tf("dash.waiting.summary", &[("n", &total.to_string())]),
            note: self.t("dash.waiting.note").to_string(),
            labels: (towns.iter())
                .map(|t| t.local_name(self.lang).to_string())
                .collect(),
            series: vec![
                self.counts("dash.dose1", &first),
                self.counts("dash.dose_later", &later),
            ],
            kind: Kind::Bars,
            percent: false,
            head: self.head(&["dash.town", "dash.dose1", "dash.dose_later", "dash.total"]),
            rows,
            link: self.csv("waiting", None),
        })
    }

    fn stock(&self) -> Figure {
        let days = i64::from(RATE_DAYS);
        let site = |s: &SiteStock| in_lang(self.lang, &s.site, s.site_en.as_deref()).to_string();
        let mut left = Vec::new();
        let rows = (self.d.stock.iter())
            .map(|s| {
                let rate = s.given as f64 / days as f64;
                let days_left = (s.given > 0).then(|| s.on_hand as f64 / rate);
                left.push(days_left.unwrap_or(0.0));
                Row {
                    key: s.site_id.to_string(),
                    label: site(s),
                    cells: vec![
                        in_lang(self.lang, &s.town, s.town_en.as_deref()).to_string(),
                        s.on_hand.to_string(),
                        s.promised.to_string(),
                        format!("{rate:.1}"),
                        days_left.map_or_else(
                            || self.t("dash.no_rate").to_string(),
                            |d| format!("{d:.1}"),
                        ),
                    ],
                }
            })
            .collect();
        let on_hand: i64 = self.d.stock.iter().map(|s| s.on_hand).sum();
        self.figure(Draft {
            id: "stock",
            title: "dash.stock",
            summary: self.lang.tf(
                "dash.stock.summary",
                &[
                    ("n", &on_hand.to_string()),
                    ("sites", &self.d.stock.len().to_string()),
                ],
            ),
            note: (self.lang).tf("dash.stock.note", &[("days", &RATE_DAYS.to_string())]),
            labels: self.d.stock.iter().map(site).collect(),
            series: vec![self.series("dash.days_left", left)],
            kind: Kind::Bars,
            percent: false,
            head: self.head(&[
                "dash.site",
                "dash.town",
                "dash.on_hand",
                "dash.promised",
                "dash.rate",
                "dash.days_left",
            ]),
            rows,
            link: self.csv("stock", None),
        })
    }

    fn no_shows(&self) -> Figure {
        let n = self.d.history.len();
        let of_status = |statuses: &[&str]| {
            let rows = self.d.appointments.iter();
            by_day(
                n,
                (rows.filter(|r| statuses.contains(&r.status.as_str()))).map(|r| (r.day, r.n)),
            )
        };
        let settled = of_status(&["no_show", "vaccinated", "deferred"]);
        let missed = of_status(&["no_show"]);
        let rows = self.day_rows(&self.d.history, |i| {
            vec![
                settled[i].to_string(),
                missed[i].to_string(),
                pct(missed[i], settled[i]),
            ]
        });
        let (all, all_missed) = (settled.iter().sum::<i64>(), missed.iter().sum::<i64>());
        self.figure(Draft {
            id: "no_show",
            title: "dash.no_show",
            summary: self.lang.tf(
                "dash.no_show.summary",
                &[
                    ("rate", &pct(all_missed, all)),
                    ("n", &all_missed.to_string()),
                    ("of", &all.to_string()),
                ],
            ),
            note: self.t("dash.no_show.note").to_string(),
            labels: short_days(&self.d.history),
            series: vec![self.series(
                "dash.no_show_rate",
                (0..n).map(|i| share(missed[i], settled[i])).collect(),
            )],
            kind: Kind::Bars,
            percent: true,
            head: self.head(&[
                "dash.day",
                "dash.settled",
                "dash.no_shows",
                "dash.no_show_rate",
            ]),
            rows,
            link: self.csv("appointments", self.history_span()),
        })
    }

    fn wastage(&self) -> Figure {
        let n = self.d.history.len();
        let wasted = by_day(n, self.d.wasted.iter().map(|r| (r.day, r.n)));
        let given = by_day(n, self.d.doses.iter().map(|r| (r.day, r.n)));
        let rows = self.day_rows(&self.d.history, |i| {
            vec![
                wasted[i].to_string(),
                given[i].to_string(),
                pct(wasted[i], wasted[i] + given[i]),
            ]
        });
        let (all_wasted, all_given) = (wasted.iter().sum::<i64>(), given.iter().sum::<i64>());
        self.figure(Draft {
            id: "wastage",
            title: "dash.wastage",
            summary: self.lang.tf(
                "dash.wastage.summary",
                &[
                    ("n", &all_wasted.to_string()),
                    ("rate", &pct(all_wasted, all_wasted + all_given)),
                ],
            ),
            note: self.t("dash.wastage.note").to_string(),
            labels: short_days(&self.d.history),
            series: vec![self.counts("dash.wasted", &wasted)],
            kind: Kind::Bars,
            percent: false,
            head: self.head(&["dash.day", "dash.wasted", "dash.given", "dash.wastage_rate"]),
            rows,
            link: self.csv("stock", self.history_span()),
        })
    }

    fn reactions(&self) -> Figure {
        let counts: Vec<i64> = Severity::ALL
            .iter()
            .map(|s| {
                self.d
                    .reactions
                    .iter()
                    .filter(|r| r.severity == s.as_str())
                    .map(|r| r.n)
                    .sum()
            })
            .collect();
        let labels: Vec<String> = Severity::ALL
            .iter()
            .map(|s| {
                self.lang
                    .t(&format!("clinic.severity.{}", s.as_str()))
                    .to_string()
            })
            .collect();
        let rows = Severity::ALL
            .iter()
            .zip(&labels)
            .zip(&counts)
            .map(|((s, label), n)| Row {
                key: s.as_str().to_string(),
                label: label.clone(),
                cells: vec![n.to_string()],
            })
            .collect();
        self.figure(Draft {
            id: "reactions",
            title: "dash.reactions",
            summary: self.lang.tf(
                "dash.reactions.summary",
                &[
                    ("n", &counts.iter().sum::<i64>().to_string()),
                    ("days", &self.d.history.len().to_string()),
                ],
            ),
            note: self.t("dash.reactions.note").to_string(),
            labels,
            series: vec![self.counts("dash.reactions_n", &counts)],
            kind: Kind::Bars,
            percent: false,
            head: self.head(&["dash.severity", "dash.reactions_n"]),
            rows,
            link: self.csv("reactions", self.history_span()),
        })
    }
}

/// Every figure of `d`, in the page's order.
pub fn figures(d: &Dashboard, lang: Lang) -> Vec<Figure> {
    let b = Build { d, lang };
    vec![
        b.coverage(),
        b.doses(),
        b.seats(),
        b.due(),
        b.waiting(),
        b.stock(),
        b.no_shows(),
        b.wastage(),
        b.reactions(),
    ]
}

/// The name of what `d` covers: the city, or its town.
pub fn scope_name(d: &Dashboard, lang: Lang) -> String {
    match d.scope.town {
        Some(id) => d
            .towns
            .iter()
            .find(|t| t.id == id)
            .map(|t| t.local_name(lang).to_string())
            .unwrap_or_default(),
        None => lang.t("dash.city").to_string(),
    }
}
