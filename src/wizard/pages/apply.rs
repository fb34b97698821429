//! Page 10, Apply: the steps of `setup::apply` as they happen (done, failed, undone), and
//! the outcome. After a failure everything done was rolled back and the page says so. The
//! page shows progress; the app runs the transaction.

use iced::widget::{column, row, text};
use iced::{Element, Length, Theme};

use super::super::effects::Outcome;
use super::super::i18n::Lang;
use super::super::ui;
use crate::setup::{Detail, Progress, SetupError, Step};
use std::sync::Arc;

/// One line of the progress list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub step: Step,
    pub state: LineState,
    pub detail: LineDetail,
}

/// What stands under a step's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineDetail {
    /// Nothing yet (the step runs).
    None,
    /// What setup reported.
    Setup(Detail),
    /// Validation was not run again: the Connect page passed on these values.
    PassedOnConnect { ms: u64 },
}

/// Where a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineState {
    Running,
    Done,
    Failed,
    RolledBack,
}

/// The Apply page's state.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub lines: Vec<Line>,
    pub running: bool,
    pub outcome: Option<Result<Outcome, Arc<SetupError>>>,
}

/// Input to the Apply page.
#[derive(Debug, Clone)]
pub enum Message {
    /// A step started, finished, failed or was undone.
    Progress(Progress),
    /// The transaction finished.
    Finished(Result<Outcome, Arc<SetupError>>),
}

/// This page needs nothing from the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {}

impl State {
    pub fn start(&mut self) {
        *self = State {
            running: true,
            ..State::default()
        };
    }

    pub fn update(&mut self, msg: Message) -> Option<Event> {
        match msg {
            Message::Progress(p) => {
                let (step, state, detail) = match p {
                    Progress::Started(s) => (s, LineState::Running, LineDetail::None),
                    Progress::Done(s, d) => (s, LineState::Done, LineDetail::Setup(d)),
                    Progress::Failed(s, d) => (s, LineState::Failed, LineDetail::Setup(d)),
                    Progress::RolledBack(s, d) => (s, LineState::RolledBack, LineDetail::Setup(d)),
                    Progress::Check(_) => return None,
                };
                if state == LineState::RolledBack {
                    self.lines.push(Line {
                        step,
                        state,
                        detail,
                    });
                } else if let Some(line) = self
                    .lines
                    .iter_mut()
                    .rev()
                    .find(|x| x.step == step && x.state == LineState::Running)
                {
                    line.state = state;
                    line.detail = detail;
                } else {
                    self.lines.push(Line {
                        step,
                        state,
                        detail,
                    });
                }
            }
            Message::Finished(r) => {
                self.running = false;
                self.outcome = Some(r);
            }
        }
        None
    }

    pub fn succeeded(&self) -> bool {
        matches!(self.outcome, Some(Ok(_)))
    }

    pub fn view(&self, l: Lang) -> Element<'_, Message> {
        let mut col = column![].spacing(10);
        col = col.push(match &self.outcome {
            None => ui::note(
                ui::NoteKind::Info,
                l.t(
                    "Applying… This takes a few seconds; a failure undoes every step already done.",
                ),
            ),
            Some(Ok(_)) => ui::note(ui::NoteKind::Success, l.t("Done. Press Next.")),
            Some(Err(e)) => ui::note(
                ui::NoteKind::Error,
                l.f(
                    "Setup failed and everything was rolled back: {}",
                    &[&super::super::words::setup_error(l, e)],
                ),
            ),
        });
        for line in &self.lines {
            let (sym, status) = match line.state {
                LineState::Running => ("…", None),
                LineState::Done => ("✔", Some(true)),
                LineState::Failed => ("✘", Some(false)),
                LineState::RolledBack => ("↩", None),
            };
            let label = match line.state {
                LineState::RolledBack => l.f("Undone: {}", &[l.t(line.step.label())]),
                _ => l.t(line.step.label()).to_string(),
            };
            col = col.push(
                column![
                    row![
                        text(sym)
                            .size(16)
                            .width(Length::Fixed(20.0))
                            .style(move |t: &Theme| {
                                let p = t.extended_palette();
                                text::Style {
                                    color: Some(match status {
                                        Some(true) => p.success.strong.color,
                                        Some(false) => p.danger.base.color,
                                        None => p.background.base.text,
                                    }),
                                }
                            }),
                        ui::bold(text(label).size(ui::BODY)),
                    ]
                    .spacing(8),
                    text(match &line.detail {
                        LineDetail::None => String::new(),
                        LineDetail::Setup(d) => super::super::words::setup_detail(l, d),
                        LineDetail::PassedOnConnect { ms } => l.f(
                            "all checks passed on the Connect page in {} ms",
                            &[&ms.to_string()],
                        ),
                    })
                    .size(ui::SMALL)
                    .style(ui::muted),
                ]
                .spacing(2),
            );
        }
        col.into()
    }
}
