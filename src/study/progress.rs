//! Progress of a running search as text: one line per finished query and heartbeats while
//! nothing finishes, for logs read off a terminal (nohup, tmux, batch jobs).

use std::time::{Duration, Instant};

use crate::search::Origin;
use crate::time::{duration_text, unix_now, utc_text};

use crate::study::QueryRecord;

/// Counts of a running search, updated per query.
#[derive(Debug, Clone)]
pub struct Progress {
    budget: usize,
    done: usize,
    failures: usize,
    best: Option<f64>,
    minimize: bool,
    started: Instant,
}

impl Progress {
    /// A search of `budget` queries starting now.
    pub fn new(budget: usize, minimize: bool) -> Self {
        Self {
            budget,
            done: 0,
            failures: 0,
            best: None,
            minimize,
            started: Instant::now(),
        }
    }

    /// Counts a told query.
    pub fn record<A>(&mut self, q: &QueryRecord<A>) {
        self.done = q.n.max(self.done);
        match &q.result {
            // A training stopped early is not a candidate for the best.
            Ok(e) if !e.is_complete() => {}
            Ok(e) => {
                let better = match self.best {
                    None => true,
                    Some(b) if self.minimize => e.objective < b,
                    Some(b) => e.objective > b,
                };
                if better {
                    self.best = Some(e.objective);
                }
            }
            Err(_) => self.failures += 1,
        }
    }

    /// Queries told so far.
    pub fn done(&self) -> usize {
        self.done
    }

    /// Failed queries so far.
    pub fn failures(&self) -> usize {
        self.failures
    }

    /// The best objective so far.
    pub fn best(&self) -> Option<f64> {
        self.best
    }

    /// Time since the search started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The log line of query `q` (counted already): time, n/budget, objective, best so far,
    /// failures so far and the phase it came from.
    pub fn query_line<A>(&self, q: &QueryRecord<A>) -> String {
        let objective = match &q.result {
            Ok(e) => match e.stopped_at {
                Some(step) => format!("stopped at step {step} ({:.4})", e.objective),
                None => format!("objective {:.4}", e.objective),
            },
            Err(_) => "failed".to_string(),
        };
        let mut line = format!(
            "{} query {}{} {objective} | best {} | failures {} | {}",
            utc_text(unix_now()),
            q.n,
            self.of_budget(),
            self.best_text(),
            self.failures,
            phase_of(q.info.origin),
        );
        if let Some(p) = q.info.predicted {
            line.push_str(&format!(" (predicted {p:.4})"));
        }
        line
    }

    /// A heartbeat: where the search stands and what it is doing (`phase`).
    pub fn heartbeat_line(&self, phase: &str) -> String {
        let phase = if phase.is_empty() { "working" } else { phase };
        format!(
            "{} {}{} queries | best {} | failures {} | {phase} | {} elapsed",
            utc_text(unix_now()),
            self.done,
            self.of_budget(),
            self.best_text(),
            self.failures,
            duration_text(self.elapsed()),
        )
    }

    /// `/budget`, or nothing when queries are not limited (a budget in training time).
    fn of_budget(&self) -> String {
        if self.budget == usize::MAX {
            String::new()
        } else {
            format!("/{}", self.budget)
        }
    }

    fn best_text(&self) -> String {
        self.best
            .map_or_else(|| "-".to_string(), |b| format!("{b:.4}"))
    }
}

/// The phase a query came from, in words.
pub fn phase_of(origin: Option<Origin>) -> String {
    match origin {
        Some(Origin::Initial) => "random init".into(),
        Some(o) => o.to_string(),
        None => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluator::Evaluation;
    use crate::search::ProposalInfo;

    #[test]
    fn lines_carry_counts_best_and_phase() {
        let mut p = Progress::new(10, false);
        let q = |n, r: Result<f64, &str>, origin| QueryRecord {
            n,
            index: n - 1,
            arch: (),
            key: n.to_string(),
            result: r
                .map(|v| Evaluation::new(v, None, 0.0))
                .map_err(str::to_string),
            info: ProposalInfo {
                origin,
                predicted: None,
            },
            started_unix: None,
            finished_unix: None,
        };
        let a = q(1, Ok(90.0), Some(Origin::Initial));
        p.record(&a);
        let b = q(2, Err("crash"), Some(Origin::Scored { round: 3 }));
        p.record(&b);
        let c = q(3, Ok(80.0), None);
        p.record(&c);
        let line = p.query_line(&b);
        assert!(
            line.ends_with("query 2/10 failed | best 90.0000 | failures 1 | round 3 scored"),
            "{line}"
        );
        assert!(p.query_line(&a).contains("| random init"));
        assert_eq!((p.done(), p.failures(), p.best()), (3, 1, Some(90.0)));
        let h = p.heartbeat_line("SemiNAS round 2: training controller");
        assert!(
            h.contains("3/10 queries | best 90.0000 | failures 1 | SemiNAS round 2"),
            "{h}"
        );
    }
}

#[cfg(test)]
mod searcher_tests {
    use crate::benchmark::nb201::{NB201_OBJECTIVE, NB201_REPORT, nb201_benchmark};
    use crate::search::{Algo, AlgoConfig, Origin, Phase};
    use crate::space::Nb201Space;
    use crate::study::{Budget, run_search};

    #[test]
    fn searchers_say_where_proposals_come_from_and_name_their_phases() {
        let space = Nb201Space::new();
        let bench = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap();
        let mut config = AlgoConfig::default();
        config.seminas.pretrain_epochs = Some(5);
        config.seminas.train_epochs = Some(2);
        config.seminas.pseudo = Some(50);
        for (algo, init, later) in [
            (Algo::Random, Origin::Random, Origin::Random),
            (Algo::Re, Origin::Initial, Origin::Mutated),
            (
                Algo::SemiNas,
                Origin::Initial,
                Origin::Generated { round: 1 },
            ),
            (
                Algo::SemiNasEns,
                Origin::Initial,
                Origin::Scored { round: 1 },
            ),
        ] {
            let mut s = algo.build(&space, 1, 30, &config);
            let phase = Phase::default();
            s.watch(phase.clone());
            let run = run_search(&space, &bench, s.as_mut(), Budget::queries(30), &mut |_| {});
            let origins: Vec<Option<Origin>> = run.records.iter().map(|r| r.info.origin).collect();
            assert_eq!(origins[0], Some(init), "{algo}");
            // SemiNAS and SemiNAS-Ens start with a tenth/third of the budget at random.
            let first_later = origins.iter().position(|o| *o != Some(init));
            if init != later {
                let i = first_later.expect("a later phase");
                assert_eq!(origins[i], Some(later), "{algo}");
                let predicted = run.records[i].info.predicted;
                match algo {
                    Algo::SemiNas | Algo::SemiNasEns => {
                        // In the objective's units (NB201 validation accuracy, %).
                        let p = predicted.expect("a predicted value");
                        assert!((50.0..100.0).contains(&p), "{algo}: {p}");
                    }
                    _ => assert_eq!(predicted, None),
                }
            }
            match algo {
                Algo::SemiNas => {
                    assert!(phase.get().starts_with("SemiNAS round "), "{}", phase.get())
                }
                Algo::SemiNasEns => {
                    assert!(
                        phase.get().starts_with("SemiNAS-Ens round "),
                        "{}",
                        phase.get()
                    )
                }
                _ => assert_eq!(phase.get(), "", "{algo}"),
            }
        }
    }
}
