//! Finding an evaluation's result in a job's logs, which interleave Ray's own lines with the
//! job's output.

/// Returns the text between the last line that is exactly `begin` and the first line after it
/// that is exactly `end` (lines compared without surrounding whitespace), trimmed. `None` when
/// there is no such `begin` line, or when the last one has no `end` line after it (a truncated
/// block: an earlier, complete one is not trusted either, since the job went on to write
/// another).
///
/// Markers count only as whole lines because Ray also writes the entrypoint command itself into
/// the log (`Running entrypoint for job ...: <command>`), at any point, markers and all. Ray
/// writes that line concurrently with the job's output, so it can land inside a multi-line
/// block; [`last_marked_line`] with a one-line result avoids that.
pub fn extract_between<'a>(logs: &'a str, begin: &str, end: &str) -> Option<&'a str> {
    let lines = lines_with_offsets(logs);
    let b = lines.iter().rposition(|(_, line)| line.trim() == begin)?;
    let start = lines[b].0 + lines[b].1.len();
    let e = lines[b + 1..].iter().find(|(_, line)| line.trim() == end)?;
    Some(logs[start..e.0].trim())
}

/// The rest of the last line of `logs` that starts with `marker`, trimmed: the job prints
/// `MARKER {"objective": ...}` as one line, which nothing else can split. Lines that merely
/// contain the marker (such as Ray's echo of the entrypoint command) do not count.
pub fn last_marked_line<'a>(logs: &'a str, marker: &str) -> Option<&'a str> {
    logs.lines()
        .rev()
        .find_map(|line| line.strip_prefix(marker))
        .map(str::trim)
}

/// Each line of `text` (without its line ending) with its byte offset.
fn lines_with_offsets(text: &str) -> Vec<(usize, &str)> {
    let mut offset = 0;
    text.split_inclusive('\n')
        .map(|raw| {
            let line = raw.trim_end_matches(['\n', '\r']);
            let item = (offset, line);
            offset += raw.len();
            item
        })
        .collect()
}
