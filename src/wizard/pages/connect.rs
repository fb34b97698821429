//! Page 8, Connect: the live checklist of `setup::validate_plan`: each check's status,
//! duration, detail and fix as it finishes; Retry, Cancel and Copy report. Next is allowed
//! only when every required check passed. The page shows results; the app runs the checks.

use std::collections::BTreeMap;

use iced::widget::{button, column, container, row, text};
use iced::{Element, Length, Theme};

use super::super::focus::focusable;
use super::super::i18n::Lang;
use super::super::ui;
use super::super::words::{self, Place};
use crate::exchange::client::Mechanism;
use crate::probe::{CheckId, CheckResult, Report, Status};

/// The checklist's state.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub results: BTreeMap<CheckId, CheckResult>,
    pub running: bool,
    pub report: Option<Report>,
    /// Why validation could not run at all (e.g. an incomplete configuration).
    pub error: Option<String>,
    pub cancelled: bool,
    pub copied: bool,
}

/// Input to the Connect page.
#[derive(Debug, Clone)]
pub enum Message {
    /// A check finished.
    Checked(CheckResult),
    /// The run finished with a report, or could not run.
    Finished(Result<Report, String>),
    /// Run every check again.
    Retry,
    /// Stop the run.
    Cancel,
    /// Copy the report to the clipboard.
    Copy,
    /// Go to the page and field a fix is about.
    GoTo(Place),
}

/// What the app must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Start (or restart) validation.
    Run,
    /// Abort the running validation.
    Cancel,
    /// Put this text on the clipboard.
    Copy(String),
    /// Open the page of this setting, focused on its field.
    GoTo(Place),
}

impl State {
    /// Forget the last run and mark one as running.
    pub fn start(&mut self) {
        *self = State {
            running: true,
            ..State::default()
        };
    }

    pub fn update(&mut self, msg: Message) -> Option<Event> {
        match msg {
            Message::Checked(c) => {
                if self.running {
                    self.results.insert(c.id, c);
                }
                None
            }
            Message::Finished(r) => {
                if !self.running {
                    return None;
                }
                self.running = false;
                match r {
                    Ok(report) => {
                        for c in &report.checks {
                            self.results.insert(c.id, c.clone());
                        }
                        self.report = Some(report);
                    }
                    Err(e) => self.error = Some(e),
                }
                None
            }
            Message::Retry => (!self.running).then_some(Event::Run),
            Message::Cancel => {
                if !self.running {
                    return None;
                }
                self.running = false;
                self.cancelled = true;
                Some(Event::Cancel)
            }
            Message::Copy => {
                self.copied = true;
                Some(Event::Copy(self.report_text()))
            }
            Message::GoTo(p) => (!self.running).then_some(Event::GoTo(p)),
        }
    }

    /// Every required check passed.
    pub fn passed(&self) -> bool {
        self.report.as_ref().is_some_and(|r| r.ok)
    }

    /// The report as plain text (`Report::to_text`), or what is known so far.
    pub fn report_text(&self) -> String {
        match &self.report {
            Some(r) => r.to_text(),
            None => {
                let partial = Report {
                    checks: self.results.values().cloned().collect(),
                    total_ms: 0,
                    ok: false,
                };
                let mut s = partial.to_text();
                if let Some(e) = &self.error {
                    s.push_str(e);
                    s.push('\n');
                }
                s
            }
        }
    }

    /// How the service account signed in (check 7): the mechanism, and whether Kerberos was
    /// passed over. `None` until check 7 passed.
    pub fn signed_in_with(&self) -> Option<(Mechanism, bool)> {
        let c = self.results.get(&CheckId::ServiceAccount)?;
        if !matches!(c.status, Status::Passed | Status::Warning) {
            return None;
        }
        let s = c.sign_in.as_ref()?;
        Some((s.mechanism, s.kerberos_not_used.is_some()))
    }

    pub fn shortcut(&self, c: char) -> Option<Message> {
        match c {
            'r' => Some(Message::Retry),
            'c' => Some(Message::Copy),
            'x' => Some(Message::Cancel),
            _ => None,
        }
    }

    pub fn view(&self, l: Lang) -> Element<'_, Message> {
        let mut list = column![].spacing(6);
        for id in CheckId::ALL {
            list = list.push(check_row(l, id, self.results.get(&id), self.running));
        }
        let status: Element<'_, Message> = if self.running {
            ui::note(
                ui::NoteKind::Info,
                l.f(
                    "Checking… {} of 14 done. The checks run at the same time; each stops after 20 s.",
                    &[&self.results.len().to_string()],
                ),
            )
        } else if let Some(e) = &self.error {
            ui::note(ui::NoteKind::Error, e.clone())
        } else if self.cancelled {
            ui::note(
                ui::NoteKind::Warning,
                l.t("Cancelled. Press Retry to check again."),
            )
        } else if let Some(r) = &self.report {
            if r.ok {
                ui::note(
                    ui::NoteKind::Success,
                    l.f(
                        "All required checks passed in {} ms.",
                        &[&r.total_ms.to_string()],
                    ),
                )
            } else {
                ui::note(
                    ui::NoteKind::Error,
                    l.t("Some checks failed. Follow the fix under each, go Back to change a setting, then Retry."),
                )
            }
        } else {
            ui::note(ui::NoteKind::Info, l.t("Not run yet."))
        };
        let retry = (!self.running).then_some(Message::Retry);
        let cancel = self.running.then_some(Message::Cancel);
        let copy = (!self.results.is_empty() || self.error.is_some()).then_some(Message::Copy);
        let buttons = row![
            focusable(
                "retry",
                button(text(l.t("Retry")).size(ui::BODY))
                    .padding([6, 14])
                    .style(ui::plain_button)
                    .on_press_maybe(retry.clone()),
                retry,
            ),
            focusable(
                "cancel-checks",
                button(text(l.t("Cancel checks")).size(ui::BODY))
                    .padding([6, 14])
                    .style(ui::plain_button)
                    .on_press_maybe(cancel.clone()),
                cancel,
            ),
            focusable(
                "copy-report",
                button(
                    text(if self.copied {
                        l.t("Copied")
                    } else {
                        l.t("Copy report")
                    })
                    .size(ui::BODY)
                )
                .padding([6, 14])
                .style(ui::plain_button)
                .on_press_maybe(copy.clone()),
                copy,
            ),
            text("Alt+R · Alt+X · Alt+C")
                .size(ui::SMALL)
                .style(ui::muted),
        ]
        .spacing(8)
        .align_y(iced::Center);
        // The status and the sign-in line share one child, so the buttons and the list keep
        // their place in the widget tree when the line appears.
        let mut top = column![status].spacing(12);
        if let Some((mech, passed_over)) = self.signed_in_with() {
            let mech = mech.to_string();
            let mut line = column![text(l.f("Signed in with {}", &[&mech]))
                .size(ui::BODY)
                .font(ui::BOLD)]
            .spacing(2);
            if passed_over {
                line = line.push(
                    text(l.t("Kerberos was not used; check 7 says why."))
                        .size(ui::SMALL)
                        .style(ui::muted),
                );
            }
            top = top.push(line);
        }
        column![top, buttons, list].spacing(12).into()
    }
}

fn status_style(status: Option<Status>) -> impl Fn(&Theme) -> text::Style {
    move |t: &Theme| {
        let p = t.extended_palette();
        text::Style {
            color: Some(match status {
                Some(Status::Passed) => p.success.strong.color,
                Some(Status::Warning) => p.warning.strong.color,
                Some(Status::Failed) => p.danger.base.color,
                _ => p.background.base.text.scale_alpha(0.55),
            }),
        }
    }
}

fn check_row<'a>(
    l: Lang,
    id: CheckId,
    r: Option<&'a CheckResult>,
    running: bool,
) -> Element<'a, Message> {
    let symbol = match r {
        Some(c) => c.status.symbol(),
        None if running => "…",
        None => "·",
    };
    let duration = match r {
        Some(c) if !matches!(c.status, Status::Skipped | Status::NotApplicable) => {
            format!("{} ms", c.duration_ms)
        }
        _ => String::new(),
    };
    let head = row![
        text(symbol)
            .size(16)
            .width(Length::Fixed(20.0))
            .style(status_style(r.map(|c| c.status))),
        text(format!("{:>2}. {}", id.number(), l.t(id.title())))
            .size(ui::BODY)
            .font(ui::BOLD)
            .width(Length::Fill),
        text(duration).size(ui::SMALL).style(ui::muted),
    ]
    .spacing(8)
    .align_y(iced::Center);
    let mut col = column![head].spacing(2);
    match r {
        Some(c) => {
            let detail = words::finding(l, &c.finding);
            if !detail.is_empty() {
                col = col.push(
                    container(text(detail).size(ui::SMALL).style(ui::muted)).padding(
                        iced::Padding {
                            left: 28.0,
                            ..iced::Padding::ZERO
                        },
                    ),
                );
            }
            if let Some(fix) = &c.remedy {
                let line = text(l.f("Fix: {}", &[&words::fix(l, fix)]))
                    .size(ui::SMALL)
                    .style(status_style(Some(c.status)));
                let place = fix.setting().and_then(words::place);
                col = col.push(
                    container(match place {
                        Some(p) => column![
                            line,
                            focusable(
                                // One per check: its key is the id.
                                id.key(),
                                button(
                                    text(l.f("Go to {}", &[&words::place_text(l, &p)]))
                                        .size(ui::SMALL)
                                )
                                .padding([3, 10])
                                .style(ui::plain_button)
                                .on_press(Message::GoTo(p)),
                                Some(Message::GoTo(p)),
                            ),
                        ]
                        .spacing(4),
                        None => column![line],
                    })
                    .padding(iced::Padding {
                        left: 28.0,
                        ..iced::Padding::ZERO
                    }),
                );
            }
        }
        None if running => {
            col = col.push(
                container(text(l.t("checking…")).size(ui::SMALL).style(ui::muted)).padding(
                    iced::Padding {
                        left: 28.0,
                        ..iced::Padding::ZERO
                    },
                ),
            )
        }
        None => {}
    }
    col.into()
}
