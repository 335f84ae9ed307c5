//! The pure mapping of a query answer (any JSON) to a [`TaskReport`].

use serde_json::Value;

use super::{ApiError, excerpt, non_empty_str};

/// Where a task stands.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskPhase {
    /// Still being worked on (also: unknown statuses, and "completed" without
    /// a video URL yet).
    Running,
    Completed {
        video_url: String,
    },
    /// `reason` is the upstream reason when one was given.
    Failed {
        reason: Option<String>,
    },
}

/// One query answer, interpreted.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskReport {
    /// Raw upstream status, as given.
    pub status: String,
    pub phase: TaskPhase,
    /// 0..=100 when the answer carried a usable progress.
    pub progress_pct: Option<u8>,
    pub thumbnail_url: Option<String>,
    pub enhanced_prompt: Option<String>,
}

/// Pure: maps a parsed query answer (any JSON) to a report.
/// `Err(ApiError::BadResponse)` if there is no string `status`.
pub fn interpret_query(body: &Value) -> Result<TaskReport, ApiError> {
    let Some(status) = body.get("status").and_then(Value::as_str) else {
        return Err(ApiError::BadResponse {
            detail: format!("query answer has no string `status`: {}", excerpt(&body.to_string())),
        });
    };
    let normalized = status.trim().to_lowercase();
    let phase = match normalized.as_str() {
        "completed" | "success" | "succeeded" => match non_empty_str(body.get("video_url")) {
            Some(video_url) => TaskPhase::Completed { video_url },
            // The URL may be filled in by a later answer.
            None => TaskPhase::Running,
        },
        "failed" | "error" => TaskPhase::Failed { reason: failure_reason(body) },
        s if s.ends_with("_failed") => TaskPhase::Failed { reason: failure_reason(body) },
        // pending, queued, processing, in_progress and anything unknown.
        _ => TaskPhase::Running,
    };
    Ok(TaskReport {
        status: status.to_owned(),
        phase,
        progress_pct: progress_pct(body),
        thumbnail_url: non_empty_str(body.get("thumbnail_url")),
        enhanced_prompt: non_empty_str(body.get("enhanced_prompt")),
    })
}

/// `detail.pending_info.progress_pct` (0–1), else top-level `progress`
/// (0–100); clamped to 0..=100, NaN/negative ignored.
fn progress_pct(body: &Value) -> Option<u8> {
    let fraction = loose_number(body.pointer("/detail/pending_info/progress_pct")).and_then(|p| to_pct(p * 100.0));
    fraction.or_else(|| loose_number(body.get("progress")).and_then(to_pct))
}

fn to_pct(x: f64) -> Option<u8> {
    if !x.is_finite() || x < 0.0 {
        return None;
    }
    // The epsilon keeps 0.29 * 100 = 28.999… at 29; flooring keeps 99.6 from
    // looking finished.
    Some((x + 1e-9).floor().min(100.0) as u8)
}

/// A number, or a string holding one (optionally with a trailing `%`).
fn loose_number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().trim_end_matches('%').trim().parse::<f64>().ok(),
        _ => None,
    }
}

/// `error` (string or `{message}`), `detail.pending_info.failure_reason`,
/// `detail.failure_reason`.
fn failure_reason(body: &Value) -> Option<String> {
    let from_error = match body.get("error") {
        Some(Value::String(_)) => non_empty_str(body.get("error")),
        Some(Value::Object(obj)) => non_empty_str(obj.get("message")),
        _ => None,
    };
    from_error
        .or_else(|| non_empty_str(body.pointer("/detail/pending_info/failure_reason")))
        .or_else(|| non_empty_str(body.pointer("/detail/failure_reason")))
}
