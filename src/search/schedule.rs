//! How much of a budget an algorithm spends before its model chooses anything, so that a
//! small budget that would silently turn a model-based search into random search is reported.

use super::{Algo, AlgoConfig, SemiNasConfig, SemiNasEnsConfig};

impl Algo {
    /// Queries this algorithm answers with random architectures before the first one its
    /// model (predictor, controller or population) chooses, in a search of `budget` queries;
    /// `None` for random search, which never chooses otherwise.
    ///
    /// The searchers need at least two evaluated architectures before their first round, so
    /// the random start is never shorter than two.
    pub fn random_start(self, budget: usize, config: &AlgoConfig) -> Option<usize> {
        let start = match self {
            Algo::Random => return None,
            Algo::Re => config.re.population.max(1),
            Algo::Nao | Algo::SemiNas => seminas_init(budget, config).max(2),
            Algo::SemiNasRe => config.seminas_re.population.max(2),
            Algo::SemiNasEns => SemiNasEnsConfig::for_budget(budget).init.max(2),
        };
        Some(start)
    }

    /// A warning for a search of `budget` queries in which no query is chosen by the
    /// algorithm's model (the whole budget goes to its random start), naming the setting
    /// responsible and what to change; `None` when the model chooses at least one query.
    pub fn small_budget_warning(self, budget: usize, config: &AlgoConfig) -> Option<String> {
        let start = self.random_start(budget, config)?;
        if budget > start {
            return None;
        }
        let cause = match self {
            Algo::Re | Algo::SemiNasRe => format!(
                "its population of {} is drawn at random first; use a smaller --population",
                start
            ),
            Algo::Nao | Algo::SemiNas if config.seminas_preset.is_some() => format!(
                "the preset starts with {} random architectures; use --init to start with fewer",
                seminas_init(budget, config)
            ),
            Algo::Nao | Algo::SemiNas => {
                format!("it starts with {start} random architectures; use a smaller --init")
            }
            _ => format!("it needs {start} evaluated architectures before its first round"),
        };
        Some(format!(
            "warning: {self} with a budget of {budget} queries is random search: {cause}, \
             or a budget of at least {} queries",
            start + 1
        ))
    }
}

/// SemiNAS's and NAO's random start for `budget` (the controller's width does not matter).
fn seminas_init(budget: usize, config: &AlgoConfig) -> usize {
    let defaults = SemiNasConfig::for_budget(budget);
    let hidden = defaults.controller.hidden;
    config.seminas_config(defaults, hidden).init
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{AlgoOverrides, Preset};

    #[test]
    fn small_budgets_are_reported_as_random_search() {
        let d = AlgoConfig::default();
        // SemiNAS and NAO start with a third of the budget, at least 10: 10 queries are all
        // random, 11 leave one for the controller.
        for algo in [Algo::SemiNas, Algo::Nao] {
            assert_eq!(algo.random_start(10, &d), Some(10));
            assert!(
                algo.small_budget_warning(10, &d)
                    .unwrap()
                    .contains("--init")
            );
            assert_eq!(algo.small_budget_warning(11, &d), None);
        }
        // The paper preset starts with 1,100.
        let paper = AlgoOverrides {
            preset: Some(Preset::Paper),
            ..AlgoOverrides::default()
        }
        .config()
        .unwrap();
        assert_eq!(Algo::SemiNas.random_start(100, &paper), Some(1100));
        let w = Algo::SemiNas.small_budget_warning(100, &paper).unwrap();
        assert!(
            w.contains("1100 random") && w.contains("at least 1101"),
            "{w}"
        );
        assert_eq!(Algo::SemiNas.small_budget_warning(1101, &paper), None);
        // ... unless --init says otherwise.
        let paper_init = AlgoOverrides {
            preset: Some(Preset::Paper),
            init: Some(50),
            ..AlgoOverrides::default()
        }
        .config()
        .unwrap();
        assert_eq!(Algo::Nao.small_budget_warning(100, &paper_init), None);
        // SemiNAS-RE's population (20) and RE's (10) come first.
        assert!(Algo::SemiNasRe.small_budget_warning(20, &d).is_some());
        assert_eq!(Algo::SemiNasRe.small_budget_warning(21, &d), None);
        assert!(Algo::Re.small_budget_warning(10, &d).is_some());
        assert_eq!(Algo::Re.small_budget_warning(11, &d), None);
        // SemiNAS-Ens scales its start down: only 1 or 2 queries are random search.
        assert!(Algo::SemiNasEns.small_budget_warning(2, &d).is_some());
        assert_eq!(Algo::SemiNasEns.small_budget_warning(3, &d), None);
        assert_eq!(Algo::SemiNasEns.small_budget_warning(10, &d), None);
        assert_eq!(Algo::Random.small_budget_warning(1, &d), None);
    }
}
