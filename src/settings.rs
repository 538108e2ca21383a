//! Checks of the settings a user gives, where they enter the library: each is refused with a
//! [`SettingError`] naming it and its allowed range, before it can wrap around, overflow an
//! allocation or panic deep inside a search.
//!
//! The upper limits are far above any useful value; they exist so that arithmetic on the
//! settings (e.g. `retries + 1`, `pseudo * 20`) and the memory they size stay in range.

use std::fmt::Display;
use std::time::Duration;

use crate::evaluator::command::CommandConfig;
use crate::search::{AlgoConfig, Budget, ReConfig, SemiNasOverrides, SemiNasReConfig};

/// Most evaluations running at once (each is a thread).
pub const MAX_WORKERS: usize = 1024;
/// Most retries of a failed evaluation.
pub const MAX_RETRIES: usize = 1000;
/// Longest time limit, in seconds (about 31 years).
pub const MAX_SECONDS: f64 = 1e9;
/// Largest training-time budget, in seconds (about 3 million years of training).
pub const MAX_BUDGET_SECONDS: f64 = 1e14;
/// Most pseudo-labelled architectures per training.
pub const MAX_PSEUDO: usize = 1_000_000;
/// Most children SemiNAS-RE ranks per proposal.
pub const MAX_CHILDREN: usize = 100_000;
/// Largest population, tournament, top-k, round and other counts of architectures.
pub const MAX_COUNT: usize = 1_000_000;
/// Most controller epochs per training.
pub const MAX_EPOCHS: usize = 1_000_000;
/// Largest up-sampling of the evaluated pairs.
pub const MAX_UPSAMPLE: usize = 1000;

/// A setting outside its allowed range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid setting {setting} = {value}: it must be {allowed}")]
pub struct SettingError {
    /// The setting, as the command line spells it without dashes (e.g. `controller-hidden`).
    pub setting: &'static str,
    /// The value given.
    pub value: String,
    /// What is allowed (e.g. `from 1 to 1024`).
    pub allowed: String,
}

/// `value` if it lies in `min..=max`, else an error naming `setting`.
pub fn in_range<T: PartialOrd + Display + Copy>(
    setting: &'static str,
    value: T,
    min: T,
    max: T,
) -> Result<T, SettingError> {
    if value >= min && value <= max {
        Ok(value)
    } else {
        Err(SettingError {
            setting,
            value: value.to_string(),
            allowed: format!("from {min} to {max}"),
        })
    }
}

/// A time limit given in seconds: a positive number up to [`MAX_SECONDS`].
pub fn seconds(setting: &'static str, value: f64) -> Result<Duration, SettingError> {
    if value.is_finite() && value > 0.0 && value <= MAX_SECONDS {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(SettingError {
            setting,
            value: value.to_string(),
            allowed: format!("a number of seconds above 0 and at most {MAX_SECONDS:e}"),
        })
    }
}

fn optional(
    setting: &'static str,
    v: Option<usize>,
    min: usize,
    max: usize,
) -> Result<(), SettingError> {
    v.map_or(Ok(()), |v| in_range(setting, v, min, max).map(drop))
}

impl Budget {
    /// Checks the number of queries, workers and the stall limit.
    pub fn validate(&self) -> Result<(), SettingError> {
        in_range("queries", self.queries, 1, usize::MAX)?;
        in_range("workers", self.workers, 1, MAX_WORKERS)?;
        in_range("max-free-proposals", self.max_free_proposals, 1, usize::MAX)?;
        if let Some(b) = self.seconds
            && !(b.is_finite() && b > 0.0 && b <= MAX_BUDGET_SECONDS)
        {
            return Err(SettingError {
                setting: "budget-seconds",
                value: b.to_string(),
                allowed: format!("a number of seconds above 0 and at most {MAX_BUDGET_SECONDS:e}"),
            });
        }
        Ok(())
    }
}

impl ReConfig {
    /// Checks population, tournament and retries.
    pub fn validate(&self) -> Result<(), SettingError> {
        in_range("population", self.population, 1, MAX_COUNT)?;
        in_range("tournament", self.tournament, 1, MAX_COUNT)?;
        in_range("max-retries", self.max_retries, 0, MAX_COUNT)?;
        Ok(())
    }
}

impl SemiNasOverrides {
    /// Checks every overridden setting.
    pub fn validate(&self) -> Result<(), SettingError> {
        optional("init", self.init, 0, MAX_COUNT)?;
        optional("pseudo", self.pseudo, 0, MAX_PSEUDO)?;
        optional("top-k", self.top_k, 1, MAX_COUNT)?;
        optional("per-round", self.per_round, 1, MAX_COUNT)?;
        optional("pretrain-epochs", self.pretrain_epochs, 0, MAX_EPOCHS)?;
        optional("controller-epochs", self.train_epochs, 0, MAX_EPOCHS)?;
        optional("upsample", self.upsample, 0, MAX_UPSAMPLE)?;
        optional(
            "controller-hidden",
            self.hidden,
            1,
            crate::controller::config::MAX_WIDTH,
        )?;
        Ok(())
    }
}

impl SemiNasReConfig {
    /// Checks every setting.
    pub fn validate(&self) -> Result<(), SettingError> {
        in_range("population", self.population, 1, MAX_COUNT)?;
        in_range("tournament", self.tournament, 1, MAX_COUNT)?;
        in_range("children", self.children, 1, MAX_CHILDREN)?;
        in_range("retrain-every", self.retrain_every, 1, MAX_COUNT)?;
        in_range("pseudo", self.pseudo, 0, MAX_PSEUDO)?;
        in_range("pretrain-epochs", self.pretrain_epochs, 0, MAX_EPOCHS)?;
        in_range("controller-epochs", self.train_epochs, 0, MAX_EPOCHS)?;
        in_range("upsample", self.upsample, 0, MAX_UPSAMPLE)?;
        let max_hidden = crate::controller::config::MAX_WIDTH;
        in_range("controller-hidden", self.controller.hidden, 1, max_hidden)?;
        Ok(())
    }
}

impl AlgoConfig {
    /// Checks the settings of every algorithm.
    pub fn validate(&self) -> Result<(), SettingError> {
        self.re.validate()?;
        self.seminas.validate()?;
        self.seminas_re.validate()
    }
}

impl CommandConfig {
    /// Checks retries and the time limit.
    pub fn validate(&self) -> Result<(), SettingError> {
        in_range("retries", self.retries, 0, MAX_RETRIES)?;
        if let Some(t) = self.timeout {
            seconds("timeout", t.as_secs_f64())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_setting_and_its_range() {
        let e = in_range("workers", 100_000, 1, MAX_WORKERS).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid setting workers = 100000: it must be from 1 to 1024"
        );
        assert_eq!(in_range("workers", 4, 1, MAX_WORKERS), Ok(4));
        for bad in [1e300, 0.0, -1.0, f64::NAN, f64::INFINITY] {
            let e = seconds("timeout", bad).unwrap_err();
            assert_eq!(e.setting, "timeout");
        }
        assert_eq!(seconds("timeout", 2.5), Ok(Duration::from_millis(2500)));
        let over = SemiNasOverrides {
            pseudo: Some(usize::MAX),
            ..SemiNasOverrides::default()
        };
        assert_eq!(over.validate().unwrap_err().setting, "pseudo");
        let re = SemiNasReConfig {
            children: usize::MAX,
            ..SemiNasReConfig::default()
        };
        assert_eq!(re.validate().unwrap_err().setting, "children");
        assert!(AlgoConfig::default().validate().is_ok());
        let b = Budget {
            workers: 0,
            ..Budget::queries(3)
        };
        assert_eq!(b.validate().unwrap_err().setting, "workers");
    }
}
