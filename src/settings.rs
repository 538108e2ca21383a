//! Checks of the settings a user gives, where they enter the library: each is refused with a
//! [`SettingError`] naming it and its allowed range, before it can wrap around, overflow an
//! allocation or panic deep inside a search.
//!
//! The upper limits are far above any useful value; they exist so that arithmetic on the
//! settings (e.g. `retries + 1`, `pseudo * 20`) and the memory they size stay in range.

use std::fmt::Display;
use std::time::Duration;

/// Most evaluations running at once (each is a thread).
pub const MAX_WORKERS: usize = 1024;
/// Most retries of a failed evaluation.
pub const MAX_RETRIES: usize = 1000;
/// Longest time limit, in seconds (about 31 years).
pub const MAX_SECONDS: f64 = 1e9;
/// Shortest heartbeat interval, in seconds: shorter ones would flood the log.
pub const MIN_HEARTBEAT: f64 = 0.1;
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
/// Most seeds per algorithm and budget of a comparison (`seminas bench --seeds`).
pub const MAX_SEEDS: u64 = 1_000_000;
/// Most searches of one comparison (algorithms x budgets x seeds): each is remembered while
/// the comparison runs.
pub const MAX_RUNS: u64 = 10_000_000;

/// Most samples per epoch `seminas bench-controller` times.
pub const MAX_SAMPLES: usize = 10_000_000;
/// Most repeats per cell and budget of a synthetic NAS-Bench-101 file.
pub const MAX_REPEATS: usize = 1000;
/// Largest image side of the built-in trainer.
pub const MAX_IMAGE_SIZE: usize = 4096;
/// Smallest image side of the built-in trainer: its networks halve the side twice (a side
/// of 1 made the tensor library's convolution panic).
pub const MIN_IMAGE_SIZE: usize = 4;
/// Most image channels (input) or first-stage channels of the built-in trainer.
pub const MAX_TRAIN_CHANNELS: usize = 8192;
/// Most cells per stage of the built-in trainer's networks.
pub const MAX_CELLS: usize = 1000;
/// Largest batch of the built-in trainer.
pub const MAX_BATCH: usize = 1_000_000;
/// Most training steps of the built-in trainer and the supernet.
pub const MAX_STEPS: usize = 1_000_000_000;
/// Largest learning rate and supernet width multiplier.
pub const MAX_FACTOR: f64 = 1e6;
/// Highest CUDA device index.
pub const MAX_CUDA_DEVICE: usize = 1023;
/// Most CPUs or GPUs a Ray job may reserve.
pub const MAX_RAY_RESOURCES: f64 = 1e6;

/// Most characters of a user's value that an error message quotes.
pub const MAX_QUOTED_CHARS: usize = 120;

/// `value` quoted for an error message (as `{:?}` writes it), cut to its first
/// [`MAX_QUOTED_CHARS`] characters with an ellipsis and the original length: a value may be
/// a 200 MB CSV field.
pub fn quoted(value: &str) -> String {
    match value.char_indices().nth(MAX_QUOTED_CHARS) {
        None => format!("{value:?}"),
        Some((end, _)) => format!("{:?}… ({} bytes)", &value[..end], value.len()),
    }
}

/// `items` joined by `, ` for an error message, each [`quoted`]-short, at most `most` of
/// them and then how many more.
pub fn listed<T: AsRef<str>>(items: &[T], most: usize) -> String {
    let mut out: Vec<String> = items
        .iter()
        .take(most)
        .map(|i| {
            let i = i.as_ref();
            if i.chars().nth(MAX_QUOTED_CHARS).is_some() {
                quoted(i)
            } else {
                i.to_string()
            }
        })
        .collect();
    if items.len() > most {
        out.push(format!("… ({} more)", items.len() - most));
    }
    out.join(", ")
}

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

/// A number as an error message shows it: huge and tiny ones in exponent form (`1e20`, not
/// twenty-one digits).
pub fn number(value: f64) -> String {
    let a = value.abs();
    if a != 0.0 && a.is_finite() && !(1e-4..1e9).contains(&a) {
        format!("{value:e}")
    } else {
        value.to_string()
    }
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
            value: number(value),
            allowed: format!("a number of seconds above 0 and at most {MAX_SECONDS:e}"),
        })
    }
}

/// The heartbeat interval of a search's progress log: from [`MIN_HEARTBEAT`] to
/// [`MAX_SECONDS`] seconds.
pub fn heartbeat(value: f64) -> Result<Duration, SettingError> {
    if value.is_finite() && (MIN_HEARTBEAT..=MAX_SECONDS).contains(&value) {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(SettingError {
            setting: "heartbeat",
            value: number(value),
            allowed: format!("a number of seconds from {MIN_HEARTBEAT} to {MAX_SECONDS:e}"),
        })
    }
}

/// A training-time budget of `trainings` whole trainings of `cost` seconds each, in seconds:
/// refused (as `budget-trainings`) above [`MAX_BUDGET_SECONDS`].
pub fn training_budget(trainings: f64, cost: f64) -> Result<f64, SettingError> {
    let seconds = trainings * cost;
    if trainings.is_finite() && trainings > 0.0 && seconds > 0.0 && seconds <= MAX_BUDGET_SECONDS {
        Ok(seconds)
    } else {
        Err(SettingError {
            setting: "budget-trainings",
            value: number(trainings),
            allowed: format!(
                "above 0 and at most {:e} trainings of {cost} s (a training-time budget of at \
                 most {MAX_BUDGET_SECONDS:e} s)",
                MAX_BUDGET_SECONDS / cost
            ),
        })
    }
}

/// A number above 0 and at most `max` (finite): learning rates, width multipliers.
pub fn positive(setting: &'static str, value: f64, max: f64) -> Result<f64, SettingError> {
    if value.is_finite() && value > 0.0 && value <= max {
        Ok(value)
    } else {
        Err(SettingError {
            setting,
            value: number(value),
            allowed: format!("a number above 0 and at most {}", number(max)),
        })
    }
}

/// A number from `min` to `max` (finite): resources such as Ray CPUs, fractions.
pub fn between(setting: &'static str, value: f64, min: f64, max: f64) -> Result<f64, SettingError> {
    if value.is_finite() && (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(SettingError {
            setting,
            value: number(value),
            allowed: format!("a number from {} to {}", number(min), number(max)),
        })
    }
}

/// A budget in training time (`budget-seconds`, or `budget-trainings` before the cost of a
/// training is known): above 0 and at most [`MAX_BUDGET_SECONDS`].
pub fn budget(setting: &'static str, value: f64) -> Result<f64, SettingError> {
    if value.is_finite() && value > 0.0 && value <= MAX_BUDGET_SECONDS {
        Ok(value)
    } else {
        Err(SettingError {
            setting,
            value: number(value),
            allowed: format!("a number above 0 and at most {MAX_BUDGET_SECONDS:e}"),
        })
    }
}

/// A FLOPs limit of the mobile space, in millions: finite and at least `cheapest`, the
/// cheapest architecture's (no architecture would fit under it).
pub fn max_mflops(value: f64, cheapest: f64) -> Result<f64, SettingError> {
    if value.is_finite() && value >= cheapest {
        Ok(value)
    } else {
        Err(SettingError {
            setting: "max-mflops",
            value: number(value),
            allowed: format!(
                "a finite number of MFLOPs of at least {cheapest:.2} (the cheapest \
                 architecture's); leave it out for no limit"
            ),
        })
    }
}

/// `--cuda N` checked: a device index up to [`MAX_CUDA_DEVICE`], and only in a build with the
/// `cuda` feature (`cuda_built`).
pub fn cuda_device(device: usize, cuda_built: bool) -> Result<usize, SettingError> {
    if !cuda_built {
        return Err(not_here(
            "cuda",
            device,
            "in a seminas built with `--features cuda`",
        ));
    }
    in_range("cuda", device, 0, MAX_CUDA_DEVICE)
}

/// A flag given where it does not apply: refused as a setting whose only allowed value is
/// its absence (`needs` says where it applies).
pub fn not_here(setting: &'static str, value: impl Display, needs: &str) -> SettingError {
    let value = value.to_string();
    SettingError {
        setting,
        // Words quoted, numbers as given.
        value: if value.parse::<f64>().is_ok() {
            value
        } else {
            quoted(&value)
        },
        allowed: format!("left out: it applies {needs}"),
    }
}

/// Checks `v` with [`in_range`] when it is given.
pub fn optional(
    setting: &'static str,
    v: Option<usize>,
    min: usize,
    max: usize,
) -> Result<(), SettingError> {
    v.map_or(Ok(()), |v| in_range(setting, v, min, max).map(drop))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_of_user_values_are_short() {
        assert_eq!(quoted("conv"), "\"conv\"");
        let long = "x".repeat(1_000_000);
        let q = quoted(&long);
        assert_eq!(q, format!("\"{}\"… (1000000 bytes)", "x".repeat(120)));
        // Cut on a character boundary.
        assert!(quoted(&"é".repeat(200)).ends_with("… (400 bytes)"));
        assert_eq!(listed(&["a", "b", "c"], 2), "a, b, … (1 more)");
        assert_eq!(listed(&["a", "b"], 2), "a, b");
    }

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
        for bad in [1e20, 1e-300, 0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(heartbeat(bad).unwrap_err().setting, "heartbeat");
        }
        assert_eq!(heartbeat(0.1), Ok(Duration::from_millis(100)));
        for bad in [0.0, -1.0, 1e308, f64::NAN, f64::INFINITY] {
            assert!(positive("train-lr", bad, MAX_FACTOR).is_err());
            assert!(budget("budget-seconds", bad).is_err());
            assert!(max_mflops(bad, 100.0).is_err() || bad == 1e308);
        }
        assert!(max_mflops(99.0, 100.0).is_err());
        assert_eq!(between("ray-cpus", 0.0, 0.0, MAX_RAY_RESOURCES), Ok(0.0));
        assert!(between("ray-cpus", f64::NAN, 0.0, MAX_RAY_RESOURCES).is_err());
        let e = not_here("resolution", 1, "to --space mobile only");
        assert!(e.to_string().contains("resolution"), "{e}");
    }
}
