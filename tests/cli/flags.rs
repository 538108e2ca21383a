//! Every flag of every subcommand at its extremes (issue 28): the flags are discovered from
//! `seminas <sub> --help`, so a new flag or subcommand is covered (or refused a base
//! invocation) without editing this test. Each value-taking flag gets 0, 1, the largest u64
//! and one less, -1, ±1e308, 1e-308, NaN and inf, one flag at a time on a minimal valid
//! invocation. Every run must end with status 0 or 2 (1 only for a text flag, whose value may
//! name a missing file), a one-line message naming the flag on 2, no panic, no signal death,
//! nothing created by a refusal, and every run directory it leaves resumable or removable.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::*;

/// The extreme values every flag gets.
const EXTREMES: [&str; 10] = [
    "0",
    "1",
    "18446744073709551615",
    "18446744073709551614",
    "-1",
    "1e308",
    "-1e308",
    "1e-308",
    "NaN",
    "inf",
];

/// Subcommands exercised only in part, with the reason.
const EXCEPTIONS: &[(&str, &str)] = &[
    // Its only flag is the output path, and each run writes the 423k-cell space (113 MB).
    ("nb101 enumerate", "--out"),
    // Needs a Ray head to reach (and --evaluator): its values are URLs, not numbers.
    ("search", "--ray"),
];

/// Flags whose value is a time to wait or serve: a run still going after [`WAIT`] is killed
/// by the test and counts as accepted.
const WAITING: &[(&str, &str)] = &[("dashboard", "--host"), ("dashboard", "--port")];

/// How long a serving command runs before the test stops it.
const WAIT: Duration = Duration::from_millis(1500);
/// How long any other command may run.
const LIMIT: Duration = Duration::from_secs(60);

/// A value-taking flag of a subcommand, as its `--help` shows it.
#[derive(Debug, Clone)]
struct Flag {
    name: String,
    help: String,
}

/// The subcommands (as argument lists) of `path`, from its `--help`.
fn subcommands(path: &[String]) -> Vec<Vec<String>> {
    let help = help_of(path);
    let mut out = Vec::new();
    let mut inside = false;
    for line in help.lines() {
        if line.starts_with("Commands:") {
            inside = true;
            continue;
        }
        if inside {
            let Some(name) = line
                .strip_prefix("  ")
                .and_then(|l| l.split_whitespace().next())
            else {
                break;
            };
            if name != "help" {
                let mut p = path.to_vec();
                p.push(name.to_string());
                out.push(p);
            }
        }
    }
    out
}

fn help_of(path: &[String]) -> String {
    let out = seminas().args(path).arg("--help").output().unwrap();
    assert!(out.status.success(), "{path:?} --help: {}", stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// The value-taking flags of `path` with their help text.
fn flags(path: &[String]) -> Vec<Flag> {
    let help = help_of(path);
    let mut out: Vec<Flag> = Vec::new();
    let mut current: Option<Flag> = None;
    for line in help.lines() {
        let t = line.trim_start();
        let indented = line.len() - t.len();
        let option = (2..=6).contains(&indented) && (t.starts_with("--") || t.starts_with('-'));
        if option {
            if let Some(f) = current.take() {
                out.push(f);
            }
            let long = t
                .split([' ', ','])
                .find(|w| w.starts_with("--"))
                .map(str::to_string);
            let takes_value = t.split("  ").next().is_some_and(|head| head.contains(" <"));
            if let (Some(name), true) = (long, takes_value) {
                let help = t.split_once("  ").map_or("", |(_, h)| h).to_string();
                current = Some(Flag { name, help });
            }
        } else if !line.is_empty() && indented < 2 {
            // A heading ("Algorithm:") ends the option above it.
            out.extend(current.take());
        } else if let Some(f) = current.as_mut() {
            f.help.push(' ');
            f.help.push_str(t);
        }
    }
    out.extend(current);
    out
}

/// What every case shares: the toy run and bench made once.
struct Shared {
    run: PathBuf,
    bench: PathBuf,
}

/// A minimal valid invocation of `sub` in the case folder `dir`, or `None` for a subcommand
/// this test does not know yet (a failure: add one here).
fn base(sub: &str, dir: &Path, shared: &Shared) -> Option<Vec<String>> {
    let d = |p: &str| dir.join(p).display().to_string();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    Some(match sub {
        "search" => {
            let mut a = s(&["search"]);
            a.extend(toy());
            a.extend(s(&["--algo", "random", "--queries", "2", "--quiet"]));
            a.extend(["--out".into(), d("run")]);
            a
        }
        "bench" => {
            let mut a = s(&["bench"]);
            a.extend(toy());
            a.extend(s(&["--algos", "random", "--seeds", "1", "--queries", "2"]));
            a.extend(["--out".into(), d("bench")]);
            a
        }
        "resume" => {
            copy_dir(&shared.run, &dir.join("run"));
            vec!["resume".into(), d("run")]
        }
        "show" => vec!["show".into(), shared.run.display().to_string()],
        "export" => vec!["export".into(), shared.run.display().to_string()],
        "report" => vec!["report".into(), shared.bench.display().to_string()],
        "dashboard" => s(&[
            "dashboard",
            "--port",
            "0",
            &shared.run.display().to_string(),
        ]),
        "bench-controller" => s(&[
            "bench-controller",
            "--sizes",
            "10",
            "--epochs",
            "1",
            "--no-inference",
        ]),
        "bench-trainer" => s(&[
            "bench-trainer",
            "--no-torch",
            "--steps",
            "1",
            "--batch",
            "2",
            "--channels",
            "2",
            "--cells",
            "1",
            "--size",
            "8",
        ]),
        "nb101 enumerate" => vec!["nb101".into(), "enumerate".into(), "--out".into(), d("x")],
        "nb101 info" => s(&[
            "nb101",
            "info",
            "--file",
            &fixture("nb101/nasbench_single_record.tfrecord"),
        ]),
        "nb101 synth" => vec![
            "nb101".into(),
            "synth".into(),
            "--out".into(),
            d("synth.tfrecord"),
            "--limit".into(),
            "2".into(),
            "--repeats".into(),
            "1".into(),
        ],
        "nb101 hash" => s(&["nb101", "hash", "seminasnet"]),
        "mobile cost" => s(&["mobile", "cost", "--arch", "seminasnet"]),
        "mobile export" => s(&["mobile", "export", "--arch", "seminasnet"]),
        _ => return None,
    })
}

/// What a flag needs besides the base invocation to take effect: an algorithm's setting an
/// algorithm that uses it (one that does not is an error; the 2-query budget is its random
/// start, so no controller trains); `--budget-trainings` the cost of a whole training, which
/// a table with a fidelity gives (and, in a bench, no query budgets beside it).
fn context(sub: &str, flag: &str, args: Vec<String>) -> Vec<String> {
    let user = match flag {
        "--population" | "--tournament" | "--children" | "--retrain-every" => Some("seminas-re"),
        "--preset"
        | "--init"
        | "--pseudo"
        | "--top-k"
        | "--per-round"
        | "--pretrain-epochs"
        | "--controller-epochs"
        | "--upsample"
        | "--controller-hidden"
        | "--early-stopping" => Some("seminas"),
        _ => None,
    };
    if let Some(algo) = user
        && matches!(sub, "search" | "bench")
    {
        let name = if sub == "bench" { "--algos" } else { "--algo" };
        return with_flag(&args, name, algo);
    }
    if flag != "--budget-trainings" {
        return args;
    }
    let mut args = with_flag(&args, "--objective", "");
    args.pop();
    if sub == "bench" {
        args = with_flag(&args, "--queries", "");
        args.pop();
    }
    args.extend(["--fidelity".into(), "200=val_acc".into()]);
    args
}

/// `args` with `flag` set to `value` (replacing the flag's value where `args` gives one).
fn with_flag(args: &[String], flag: &str, value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        if args[i] == flag {
            i += 2;
            continue;
        }
        out.push(args[i].clone());
        i += 1;
    }
    out.push(format!("{flag}={value}"));
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn entries(dir: &Path) -> BTreeSet<PathBuf> {
    std::fs::read_dir(dir)
        .map(|r| r.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

/// One invocation: its status (`None`: killed by the test after `wait`, or a signal), its
/// stderr and how long it ran.
fn invoke(args: &[String], cwd: &Path, wait: Duration) -> (Option<i32>, bool, String) {
    let mut child = seminas()
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let start = Instant::now();
    let (code, killed) = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break (st.code(), false);
        }
        if start.elapsed() > wait {
            let _ = child.kill();
            let _ = child.wait();
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    (code, killed, reader.join().unwrap())
}

/// What went wrong with one case, if anything.
fn check_case(
    sub: &str,
    flag: &Flag,
    numeric: bool,
    value: &str,
    dir: &Path,
    shared: &Shared,
) -> Option<String> {
    let args = context(sub, &flag.name, base(sub, dir, shared).unwrap());
    let args = with_flag(&args, &flag.name, value);
    let before = entries(dir);
    let waiting = WAITING.contains(&(sub, flag.name.as_str()));
    let (code, killed, err) = invoke(&args, dir, if waiting { WAIT } else { LIMIT });
    let short: String = err.replace('\n', " | ").chars().take(240).collect();
    let what = format!("{sub} {}={value} -> {code:?}: {short}", flag.name);
    if killed && !waiting {
        return Some(format!("still running after {LIMIT:?}: {what}"));
    }
    if err.contains("panicked") || err.contains("RUST_BACKTRACE") {
        return Some(format!("panic: {what}"));
    }
    if !killed {
        let Some(code) = code else {
            return Some(format!("killed by a signal: {what}"));
        };
        // Without the trainer feature, bench-trainer refuses every invocation with status 1.
        let unbuilt = err.contains("cargo feature");
        let ok = match code {
            0 | 2 => true,
            // A port may be taken or privileged: the system's refusal, not a usage error.
            1 => !numeric || unbuilt || (sub, flag.name.as_str()) == ("dashboard", "--port"),
            _ => false,
        };
        if !ok {
            return Some(format!("status {code}: {what}"));
        }
        if code == 2 {
            let errors: Vec<&str> = err.lines().filter(|l| l.contains("error:")).collect();
            let others = err.lines().filter(|l| {
                let l = l.trim();
                // clap's own refusals of a word add the words it takes.
                !l.is_empty()
                    && !l.contains("error:")
                    && !l.starts_with("For more")
                    && !l.starts_with("[possible values")
            });
            let bare = flag.name.trim_start_matches('-');
            if errors.len() != 1 || others.count() != 0 {
                return Some(format!("not a one-line message: {what}"));
            }
            if errors[0].len() > 300 || !errors[0].contains(bare) {
                return Some(format!(
                    "a message longer than 300 or not naming {bare}: {what}"
                ));
            }
            let left: Vec<_> = entries(dir).difference(&before).cloned().collect();
            if sub != "resume" && !left.is_empty() {
                return Some(format!("a refusal left {left:?}: {what}"));
            }
        }
    }
    // Every run directory left behind is resumable, or at least removable.
    let mut left: Vec<PathBuf> = entries(dir).difference(&before).cloned().collect();
    if sub == "resume" {
        left.push(dir.join("run"));
    }
    for d in left.iter().filter(|d| d.join("run.sqlite").exists()) {
        let ds = d.display().to_string();
        let (code, _, rerr) = invoke(&["resume".to_string(), ds], dir, LIMIT);
        if code != Some(0) && std::fs::remove_dir_all(d).is_err() {
            return Some(format!(
                "{} left neither resumable ({code:?}: {rerr}) nor removable: {what}",
                d.display()
            ));
        }
        if sub == "resume" && code != Some(0) {
            return Some(format!(
                "the resumed run no longer resumes ({rerr}): {what}"
            ));
        }
    }
    None
}

/// A flag takes a number when clap refuses a word for it.
fn numeric(sub: &[String], flag: &str, cwd: &Path) -> bool {
    // In the case folder: a text flag such as --out takes the word and may create it.
    let out = seminas()
        .args(with_flag(sub, flag, "xyz"))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = stderr(&out);
    out.status.code() == Some(2)
        && err.contains(&format!("invalid value 'xyz' for '{flag}"))
        && (err.contains("invalid digit") || err.contains("invalid float"))
}

#[test]
fn every_flag_of_every_subcommand_survives_extreme_values() {
    let root = TempDir::created("flags");
    let shared = Shared {
        run: root.join("toy-run"),
        bench: root.join("toy-bench"),
    };
    let mut a = vec!["search".to_string()];
    a.extend(toy());
    a.extend(["--algo", "random", "--queries", "2", "--quiet", "--out"].map(String::from));
    a.push(shared.run.display().to_string());
    run_ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let mut a = vec!["bench".to_string()];
    a.extend(toy());
    a.extend(
        [
            "--algos",
            "random",
            "--seeds",
            "1",
            "--queries",
            "2",
            "--out",
        ]
        .map(String::from),
    );
    a.push(shared.bench.display().to_string());
    run_ok(&a.iter().map(String::as_str).collect::<Vec<_>>());

    // Every subcommand, nested ones included.
    let mut subs = Vec::new();
    let mut todo = subcommands(&[]);
    while let Some(p) = todo.pop() {
        let nested = subcommands(&p);
        if nested.is_empty() {
            subs.push(p);
        } else {
            todo.extend(nested);
        }
    }
    let mut cases = Vec::new();
    let mut problems = Vec::new();
    let mut numeric_flags = BTreeSet::new();
    for sub in &subs {
        let name = sub.join(" ");
        let probe = root.join("probe");
        std::fs::create_dir_all(&probe).unwrap();
        let Some(base_args) = base(&name, &probe, &shared) else {
            problems.push(format!("no base invocation for `seminas {name}`: add one"));
            continue;
        };
        for flag in flags(sub) {
            if EXCEPTIONS.contains(&(name.as_str(), flag.name.as_str())) {
                continue;
            }
            let num = numeric(&base_args, &flag.name, &probe);
            if num {
                let h = flag.help.to_lowercase();
                let ranged = ["from ", "at most", "at least", "any u64", "one of", "above"]
                    .iter()
                    .any(|w| h.contains(w));
                if !ranged {
                    problems.push(format!("{name} {}: its --help states no range", flag.name));
                }
            }
            if num {
                numeric_flags.insert(format!("{name} {}", flag.name));
            }
            for v in EXTREMES {
                cases.push((name.clone(), flag.clone(), num, v));
            }
        }
    }
    // The discovery itself works: a help parser that finds nothing would pass vacuously.
    for known in [
        "search --queries",
        "search --workers",
        "search --budget-seconds",
        "bench --seeds",
        "resume --heartbeat",
        "bench-controller --sizes",
        "mobile cost --resolution",
        "nb101 synth --repeats",
    ] {
        assert!(
            numeric_flags.contains(known),
            "{known} not discovered: {numeric_flags:?}"
        );
    }
    let next = AtomicUsize::new(0);
    let found = Mutex::new(problems);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((sub, flag, num, v)) = cases.get(i) else {
                        break;
                    };
                    let dir = root.join(format!("case-{i}"));
                    std::fs::create_dir_all(&dir).unwrap();
                    if let Some(p) = check_case(sub, flag, *num, v, &dir, &shared) {
                        found.lock().unwrap().push(p);
                    }
                    let _ = std::fs::remove_dir_all(&dir);
                }
            });
        }
    });
    let found = found.into_inner().unwrap();
    eprintln!(
        "{} cases ({} numeric flags) in {:?}",
        cases.len(),
        numeric_flags.len(),
        start.elapsed()
    );
    assert!(
        found.is_empty(),
        "{} problem(s):\n{}",
        found.len(),
        found.join("\n")
    );
}
