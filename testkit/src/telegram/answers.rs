//! The fake's server side: how it answers each Bot API method.

use std::pin::pin;
use std::sync::MutexGuard;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Map;

use crate::server::json_response;
use crate::updates::Chat;

use super::*;

/// An error answer of the Bot API.
pub(super) struct ApiError {
    code: u16,
    description: String,
    retry_after: Option<u32>,
}

impl ApiError {
    pub(super) fn new(code: u16, description: &str) -> ApiError {
        ApiError { code, description: description.into(), retry_after: None }
    }

    pub(super) fn response(&self) -> Response {
        let mut body = json!({"ok": false, "error_code": self.code, "description": self.description});
        if let Some(seconds) = self.retry_after {
            body["parameters"] = json!({"retry_after": seconds});
        }
        json_response(self.code, &body)
    }
}

impl From<Failure> for ApiError {
    fn from(failure: Failure) -> ApiError {
        match failure {
            Failure::RetryAfter(seconds) => ApiError {
                retry_after: Some(seconds),
                ..ApiError::new(429, &format!("Too Many Requests: retry after {seconds}"))
            },
            Failure::BadRequest(description) => ApiError::new(400, &description),
            Failure::Forbidden(description) => ApiError::new(403, &description),
            Failure::ServerError => ApiError::new(500, "Internal Server Error"),
            Failure::Conflict => ApiError::new(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
            ),
        }
    }
}

impl FakeState {
    pub(super) fn lock(&self) -> MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn take_failure(&self, method: &str) -> Option<Failure> {
        self.lock().failures.get_mut(&method.to_ascii_lowercase())?.pop_front()
    }

    pub(super) fn hand_out(&self, offset: i64, limit: usize) -> Vec<Value> {
        let mut record = self.lock();
        let batch: Vec<Value> = record
            .updates
            .iter()
            .filter(|update| update["update_id"].as_i64() >= Some(offset))
            .take(limit)
            .cloned()
            .collect();
        let now = Instant::now();
        for update in &batch {
            let update_id = update["update_id"].as_i64().expect("update_id set by push_update");
            record.handed_out.entry(update_id).or_insert(now);
        }
        batch
    }

    pub(super) fn next_message_id(&self) -> i64 {
        let mut record = self.lock();
        record.last_message_id += 1;
        record.last_message_id
    }

    pub(super) fn file_info(&self, params: &Value) -> Result<Value, ApiError> {
        let file_id = params["file_id"].as_str().unwrap_or_default();
        let record = self.lock();
        let bytes = record.files.get(file_id).ok_or_else(|| ApiError::new(400, "Bad Request: invalid file_id"))?;
        Ok(json!({
            "file_id": file_id,
            "file_unique_id": updates::unique_id(file_id),
            "file_size": bytes.len(),
            "file_path": file_path(file_id),
        }))
    }

    pub(super) fn file_bytes(&self, path: &str) -> Option<Vec<u8>> {
        let mut record = self.lock();
        record.downloads += 1;
        record.files.iter().find(|(file_id, _)| file_path(file_id) == path).map(|(_, bytes)| bytes.clone())
    }
}

pub(super) fn file_path(file_id: &str) -> String {
    format!("photos/{file_id}.jpg")
}

pub(super) async fn api(
    State(state): State<Arc<FakeState>>,
    Path((token, method)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if token != TOKEN {
        return ApiError::new(401, "Unauthorized").response();
    }
    let at = Instant::now();
    let method = lowercase_first(&method);
    let (params, files) = request_params(&uri, &headers, body).await;
    let answer = match state.take_failure(&method) {
        Some(failure) => Err(failure.into()),
        None => answer(&state, &method, &params, &files).await,
    };
    let failed = answer.is_err();
    state.lock().calls.push(Call {
        method,
        body: params,
        files,
        at,
        failed,
        result: answer.as_ref().map_or(Value::Null, Value::clone),
    });
    match answer {
        Ok(result) => json_response(200, &json!({"ok": true, "result": result})),
        Err(error) => error.response(),
    }
}

pub(super) async fn answer(
    state: &FakeState,
    method: &str,
    params: &Value,
    files: &[UploadedFile],
) -> Result<Value, ApiError> {
    Ok(match method.to_ascii_lowercase().as_str() {
        "getme" => me(),
        "getupdates" => get_updates(state, params).await,
        "getfile" => state.file_info(params)?,
        // No webhook set: the polling listener then has nothing to delete.
        "getwebhookinfo" => json!({"url": "", "has_custom_certificate": false, "pending_update_count": 0}),
        "sendmessage"
        | "sendvideo"
        | "sendphoto"
        | "senddocument"
        | "editmessagetext"
        | "editmessagecaption"
        | "editmessagereplymarkup"
        | "sendinvoice" => sent_message(state, method, params, files),
        "getchatmember" => chat_member(state, params),
        _ => Value::Bool(true),
    })
}

pub(super) fn lowercase_first(method: &str) -> String {
    let mut chars = method.chars();
    chars.next().map(|first| first.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

pub(super) fn bot_user() -> Value {
    json!({"id": BOT_ID, "is_bot": true, "first_name": "Sora", "username": BOT_USERNAME})
}

pub(super) fn me() -> Value {
    let mut me = bot_user();
    me.as_object_mut().expect("object").extend([
        ("can_join_groups".into(), true.into()),
        ("can_read_all_group_messages".into(), false.into()),
        ("supports_inline_queries".into(), false.into()),
        ("can_connect_to_business".into(), false.into()),
        ("has_main_web_app".into(), false.into()),
    ]);
    me
}

pub(super) async fn get_updates(state: &FakeState, params: &Value) -> Value {
    let offset = int_param(params, "offset").unwrap_or(0);
    let limit = int_param(params, "limit").filter(|limit| (1..=100).contains(limit)).unwrap_or(100) as usize;
    let wait = Duration::from_secs(int_param(params, "timeout").unwrap_or(0).max(0) as u64).min(MAX_LONG_POLL);
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        // Registered before looking, so an update pushed in between still wakes us.
        let mut new_update = pin!(state.new_update.notified());
        new_update.as_mut().enable();
        let batch = state.hand_out(offset, limit);
        if !batch.is_empty() || tokio::time::Instant::now() >= deadline {
            return Value::Array(batch);
        }
        let _ = tokio::time::timeout_at(deadline, new_update).await;
    }
}

/// The `Message` Telegram returns for a send or edit.
pub(super) fn sent_message(state: &FakeState, method: &str, params: &Value, files: &[UploadedFile]) -> Value {
    let method = method.to_ascii_lowercase();
    let message_id = match int_param(params, "message_id") {
        Some(edited) if method.starts_with("edit") => edited,
        _ => state.next_message_id(),
    };
    let chat_id = int_param(params, "chat_id").unwrap_or_default();
    let mut message = json!({
        "message_id": message_id,
        "date": updates::unix_now(),
        "chat": Chat { id: chat_id }.json(),
        "from": bot_user(),
    });
    let fields = message.as_object_mut().expect("object");
    let file_id = format!("sent-{message_id}");
    let uploaded_len = files.first().map(|file| file.bytes.len());
    match method.as_str() {
        "sendmessage" | "editmessagetext" => copy_param(fields, params, "text"),
        "sendinvoice" => {
            let invoice = json!({
                "title": params["title"],
                "description": params["description"],
                "start_parameter": params.get("start_parameter").cloned().unwrap_or_else(|| json!("")),
                "currency": params["currency"],
                "total_amount": params["prices"][0]["amount"],
            });
            fields.insert("invoice".into(), invoice);
        }
        "sendphoto" => {
            fields.insert("photo".into(), updates::photo_sizes(&file_id));
        }
        "senddocument" => {
            let name = files.first().and_then(|file| file.file_name.as_deref()).unwrap_or("file.bin");
            let document =
                updates::document_json(&file_id, "application/octet-stream", name, uploaded_len.unwrap_or(1));
            fields.insert("document".into(), document);
        }
        // sendVideo, and editMessageCaption: the captions the bot edits are its videos'.
        _ => {
            fields.insert("video".into(), updates::video_json(&file_id, uploaded_len.unwrap_or(1_000_000)));
        }
    }
    copy_param(fields, params, "caption");
    // A Message carries only inline keyboards (a ForceReply is not kept).
    if params["reply_markup"].get("inline_keyboard").is_some() {
        copy_param(fields, params, "reply_markup");
    }
    message
}

/// A `ChatMember`: "administrator" if added with `add_chat_admin`, else "member".
pub(super) fn chat_member(state: &FakeState, params: &Value) -> Value {
    let chat_id = int_param(params, "chat_id").unwrap_or_default();
    let user_id = int_param(params, "user_id").unwrap_or_default();
    let user = updates::User::new(user_id).json();
    if state.lock().chat_admins.contains(&(chat_id, user_id)) {
        json!({
            "status": "administrator", "user": user, "is_anonymous": false, "can_be_edited": false,
            "can_manage_chat": true, "can_change_info": true, "can_delete_messages": true,
            "can_manage_video_chats": true, "can_invite_users": true, "can_restrict_members": true,
            "can_promote_members": false,
        })
    } else {
        json!({"status": "member", "user": user})
    }
}

pub(super) fn copy_param(fields: &mut Map<String, Value>, params: &Value, key: &str) {
    if let Some(value) = params.get(key) {
        fields.insert(key.into(), value.clone());
    }
}

pub(super) async fn download(
    State(state): State<Arc<FakeState>>,
    Path((token, path)): Path<(String, String)>,
) -> Response {
    if token != TOKEN {
        return ApiError::new(401, "Unauthorized").response();
    }
    match state.file_bytes(&path) {
        Some(bytes) => ([(header::CONTENT_TYPE, "image/jpeg")], bytes).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Parameters from the query string and from a JSON, form or multipart body.
pub(super) async fn request_params(uri: &Uri, headers: &HeaderMap, body: Bytes) -> (Value, Vec<UploadedFile>) {
    let mut params = Map::new();
    let mut files = Vec::new();
    let mut add_text = |name: String, text: &str| {
        params.insert(name, field_value(text));
    };
    for (name, text) in query_pairs(uri.query().unwrap_or_default()) {
        add_text(name, &text);
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if let Ok(boundary) = multer::parse_boundary(content_type) {
        let body = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
        let mut form = multer::Multipart::new(body, boundary);
        while let Ok(Some(field)) = form.next_field().await {
            let name = field.name().unwrap_or_default().to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let Ok(bytes) = field.bytes().await else { break };
            match file_name {
                Some(file_name) => {
                    files.push(UploadedFile { field: name, file_name: Some(file_name), bytes: bytes.to_vec() })
                }
                None => add_text(name, &String::from_utf8_lossy(&bytes)),
            }
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        for (name, text) in query_pairs(&String::from_utf8_lossy(&body)) {
            add_text(name, &text);
        }
    } else if let Ok(Value::Object(json)) = serde_json::from_slice(&body) {
        params.extend(json);
    }
    (Value::Object(params), files)
}

pub(super) fn query_pairs(query: &str) -> Vec<(String, String)> {
    let uri: Uri = format!("/?{query}").parse().unwrap_or_default();
    Query::<Vec<(String, String)>>::try_from_uri(&uri).map(|Query(pairs)| pairs).unwrap_or_default()
}

/// A text field as the Bot API reads it: numbers, booleans and serialized
/// objects or arrays are JSON; anything else is a plain string.
pub(super) fn field_value(text: &str) -> Value {
    match serde_json::from_str(text) {
        Ok(value @ (Value::Number(_) | Value::Bool(_) | Value::Object(_) | Value::Array(_))) => value,
        _ => Value::String(text.into()),
    }
}

/// An integer parameter, whether sent as a JSON number or as text.
pub(super) fn int_param(params: &Value, key: &str) -> Option<i64> {
    let value = &params[key];
    value.as_i64().or_else(|| value.as_str()?.parse().ok())
}
