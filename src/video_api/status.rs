//! The pure mapping of a query answer (any JSON) to a [`TaskReport`].

use serde_json::Value;

use super::{ApiError, excerpt, non_empty_str};

/// Where a task stands.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskPhase {
    /// Still being worked on (also: unknown statuses).
    Running,
    Completed {
        video_url: String,
    },
    /// A status saying the task is done, but no usable video URL. The URL may
    /// come with a later answer; a relay that keeps answering so never sends
    /// one, so the watcher counts these instead of waiting for the time-out.
    DoneWithoutVideo,
    /// `reason` is the upstream reason when one was given.
    Failed {
        reason: Option<String>,
    },
}

/// What an upstream status word says, whatever the model family that uses
/// it (sora, veo, jimeng and grok tasks each have their own words). Both the
/// watcher's decision and the words users see come from this one mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `pending`, `queued`, `not_start`, `submitted`.
    Queued,
    /// `image_downloading`: the API is fetching the photos.
    DownloadingImages,
    /// `processing`, `in_progress`, `video_generating`.
    Generating,
    /// `video_generation_completed`: made, not handed out yet (an upscale may follow).
    Generated,
    /// `video_upsampling`.
    Upscaling,
    /// `completed`, `success`, `succeeded`, `video_upsampling_completed`.
    Done,
    /// `failed`, `failure`, `error`, `cancelled`, `canceled`, `…_failed`.
    Failed,
    /// A word we do not know: treated as still running.
    Unknown,
}

impl Stage {
    /// Any letter case, surrounding spaces ignored.
    pub fn of(status: &str) -> Stage {
        let status = status.trim().to_ascii_lowercase();
        match status.as_str() {
            "pending" | "queued" | "not_start" | "submitted" => Stage::Queued,
            "image_downloading" => Stage::DownloadingImages,
            "processing" | "in_progress" | "video_generating" => Stage::Generating,
            "video_generation_completed" => Stage::Generated,
            "video_upsampling" => Stage::Upscaling,
            "completed" | "success" | "succeeded" | "video_upsampling_completed" => Stage::Done,
            "failed" | "failure" | "error" | "cancelled" | "canceled" => Stage::Failed,
            // Veo and others name the step that failed (`upload_failed`).
            s if s.ends_with("_failed") => Stage::Failed,
            _ => Stage::Unknown,
        }
    }
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
    let phase = match Stage::of(status) {
        Stage::Done => match non_empty_str(body.get("video_url")) {
            Some(video_url) => TaskPhase::Completed { video_url },
            None => TaskPhase::DoneWithoutVideo,
        },
        Stage::Failed => TaskPhase::Failed { reason: failure_reason(body) },
        Stage::Queued
        | Stage::DownloadingImages
        | Stage::Generating
        | Stage::Generated
        | Stage::Upscaling
        | Stage::Unknown => TaskPhase::Running,
    };
    Ok(TaskReport {
        status: status.to_owned(),
        phase,
        progress_pct: progress_pct(body),
        thumbnail_url: non_empty_str(body.get("thumbnail_url")),
        enhanced_prompt: non_empty_str(body.get("enhanced_prompt")),
    })
}

/// `detail.pending_info.progress_pct`, else top-level `progress`; clamped to
/// 0..=100, NaN/negative ignored. Families disagree on the scale (sora sends
/// 0.42 where others send 42 or "42%"), so the value decides: see [`to_pct`].
fn progress_pct(body: &Value) -> Option<u8> {
    loose_progress(body.pointer("/detail/pending_info/progress_pct"), Scale::OneIsWhole)
        .or_else(|| loose_progress(body.get("progress"), Scale::OneIsOnePercent))
}

/// What the value 1 means, the one value both scales share.
#[derive(Clone, Copy, PartialEq)]
enum Scale {
    /// Sora's `progress_pct` is a fraction that ends at 1.0 with the video:
    /// read as 1 %, a finished task would seem to start over.
    OneIsWhole,
    OneIsOnePercent,
}

/// A progress as a percentage. A string with `%` is one whatever its value.
fn loose_progress(v: Option<&Value>, scale: Scale) -> Option<u8> {
    match v? {
        Value::Number(n) => to_pct(n.as_f64()?, scale),
        Value::String(s) => {
            let s = s.trim();
            match s.strip_suffix('%') {
                Some(pct) => percent(pct.trim().parse().ok()?),
                None => to_pct(s.parse().ok()?, scale),
            }
        }
        _ => None,
    }
}

/// A value below 1 is a fraction (0.45), from 1 up a percentage (45).
fn to_pct(x: f64, scale: Scale) -> Option<u8> {
    let fraction = x < 1.0 || (x == 1.0 && scale == Scale::OneIsWhole);
    if fraction { percent(x * 100.0) } else { percent(x) }
}

fn percent(x: f64) -> Option<u8> {
    if !x.is_finite() || x < 0.0 {
        return None;
    }
    // The epsilon keeps 0.29 * 100 = 28.999… at 29; flooring keeps 99.6 from
    // looking finished.
    Some((x + 1e-9).floor().min(100.0) as u8)
}

/// The first of `error` (string or `{message}`), `fail_reason`,
/// `failure_reason`, `detail.pending_info.failure_reason`,
/// `detail.failure_reason` that holds some text.
fn failure_reason(body: &Value) -> Option<String> {
    let from_error = match body.get("error") {
        Some(Value::String(_)) => non_empty_str(body.get("error")),
        Some(Value::Object(obj)) => non_empty_str(obj.get("message")),
        _ => None,
    };
    from_error
        .or_else(|| non_empty_str(body.get("fail_reason")))
        .or_else(|| non_empty_str(body.get("failure_reason")))
        .or_else(|| non_empty_str(body.pointer("/detail/pending_info/failure_reason")))
        .or_else(|| non_empty_str(body.pointer("/detail/failure_reason")))
}
