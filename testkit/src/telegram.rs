//! A fake Telegram Bot API: records every call, hands out queued updates by
//! long polling and answers with objects teloxide can deserialize.

use std::collections::{HashMap, VecDeque};
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Map, Value, json};
use tokio::sync::Notify;

use crate::multipart;
use crate::server::{Server, json_response, poll_until};
use crate::updates::{self, Chat, DOCUMENT_LEN};

pub const TOKEN: &str = "123456789:AAtest-token-for-fake-bot-api-123456";
pub const BOT_USERNAME: &str = "SoraTestBot";
pub const BOT_ID: i64 = 123456789;

const FIRST_SENT_MESSAGE_ID: i64 = 10_000;
/// Long polls are cut short so a stopping bot is not kept waiting.
const MAX_LONG_POLL: Duration = Duration::from_secs(1);
/// Uploads of finished videos can be up to 50 MB.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// One request the bot made. `failed` calls got an error answer (scripted
/// with `fail_next`, or e.g. an unknown file id); they appear in `calls()`
/// and `attempts_of()` but not in `calls_of()`, `wait_for()` or `sent_texts()`.
#[derive(Clone, Debug)]
pub struct Call {
    /// With a lowercase first letter, e.g. "sendMessage" (teloxide sends
    /// "SendMessage"; the Bot API ignores case). Compare with `Call::is`.
    pub method: String,
    /// The JSON body; for multipart the text fields, JSON-looking ones parsed.
    pub body: Value,
    pub files: Vec<UploadedFile>,
    pub at: Instant,
    pub failed: bool,
    /// What the fake answered (`Null` for failed calls), e.g. the sent Message.
    pub result: Value,
}

#[derive(Clone, Debug)]
pub struct UploadedFile {
    /// The multipart field name; teloxide names it by a random id and puts
    /// `attach://<id>` into the parameter (use `Call::file`).
    pub field: String,
    pub file_name: Option<String>,
    pub bytes: Vec<u8>,
}

impl Call {
    pub fn is(&self, method: &str) -> bool {
        self.method.eq_ignore_ascii_case(method)
    }

    pub fn chat_id(&self) -> Option<i64> {
        int_param(&self.body, "chat_id")
    }

    pub fn text(&self) -> Option<&str> {
        self.body["text"].as_str()
    }

    /// The file uploaded for a parameter such as "video", following
    /// teloxide's `attach://` indirection.
    pub fn file(&self, param: &str) -> Option<&UploadedFile> {
        let value = self.body[param].as_str()?;
        let field = value.strip_prefix("attach://").unwrap_or(value);
        self.files.iter().find(|file| file.field == field || file.field == param)
    }
}

#[derive(Clone, Debug)]
pub enum Failure {
    /// 429 with `parameters.retry_after`.
    RetryAfter(u32),
    /// 400 with this description, e.g.
    /// "Bad Request: wrong file identifier/HTTP URL specified".
    BadRequest(String),
    /// 409 as Telegram answers getUpdates while another client polls the token.
    Conflict,
}

/// An error answer of the Bot API.
struct ApiError {
    code: u16,
    description: String,
    retry_after: Option<u32>,
}

impl ApiError {
    fn new(code: u16, description: &str) -> ApiError {
        ApiError { code, description: description.into(), retry_after: None }
    }

    fn response(&self) -> Response {
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
            Failure::Conflict => ApiError::new(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
            ),
        }
    }
}

/// Cheap to clone; all clones share one server and one record.
#[derive(Clone)]
pub struct FakeTelegram {
    state: Arc<FakeState>,
    server: Arc<Server>,
}

struct FakeState {
    started: Instant,
    record: Mutex<Record>,
    new_update: Notify,
}

struct Record {
    calls: Vec<Call>,
    updates: Vec<Value>,
    handed_out: HashMap<i64, Instant>,
    last_update_id: i64,
    last_message_id: i64,
    files: HashMap<String, Vec<u8>>,
    /// Requests for file contents (`/file/bot<token>/<path>`).
    downloads: usize,
    /// Keyed by lowercased method name.
    failures: HashMap<String, VecDeque<Failure>>,
    /// (chat id, user id) of group administrators, for getChatMember.
    chat_admins: Vec<(i64, i64)>,
}

impl FakeTelegram {
    pub async fn start() -> FakeTelegram {
        let state = Arc::new(FakeState {
            started: Instant::now(),
            record: Mutex::new(Record {
                calls: Vec::new(),
                updates: Vec::new(),
                handed_out: HashMap::new(),
                last_update_id: 0,
                last_message_id: FIRST_SENT_MESSAGE_ID - 1,
                files: HashMap::new(),
                downloads: 0,
                failures: HashMap::new(),
                chat_admins: Vec::new(),
            }),
            new_update: Notify::new(),
        });
        let router = Router::new()
            .route("/bot{token}/{method}", any(api))
            .route("/file/bot{token}/{*path}", get(download))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(state.clone());
        FakeTelegram { state, server: Arc::new(Server::start(router).await) }
    }

    /// The base URL for TELOXIDE_API_URL.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Queues an update; `update_id` is assigned here. Returns it.
    pub fn push_update(&self, mut update: Value) -> i64 {
        let update_id = {
            let mut record = self.state.lock();
            record.last_update_id += 1;
            update["update_id"] = record.last_update_id.into();
            record.updates.push(update);
            record.last_update_id
        };
        self.state.new_update.notify_waiters();
        update_id
    }

    /// Queues `{"message": message}`; see `Msg::build`.
    pub fn push_message(&self, message: Value) -> i64 {
        self.push_update(json!({ "message": message }))
    }

    /// When getUpdates first returned this update.
    pub fn handed_out_at(&self, update_id: i64) -> Option<Instant> {
        self.state.lock().handed_out.get(&update_id).copied()
    }

    /// getChatMember says `user_id` is an administrator of `chat_id`
    /// (everyone else is a plain member).
    pub fn add_chat_admin(&self, chat_id: i64, user_id: i64) {
        self.state.lock().chat_admins.push((chat_id, user_id));
    }

    /// Presses the button labelled `label` under a message the bot sent
    /// (`sent` is its sendMessage/sendVideo/edit call), as Telegram would:
    /// a `callback_query` update with that message and the button's data.
    /// Returns the callback query id.
    pub fn press(&self, from: &updates::User, sent: &Call, label: &str) -> String {
        let data = updates::button_data(&sent.body["reply_markup"], label)
            .unwrap_or_else(|| panic!("no button {label:?} under {}", sent.body));
        let (id, update) = updates::callback_query(from, &sent.result, &data);
        self.push_update(update);
        id
    }

    /// The answerCallbackQuery of the press `callback_id`, waiting for it.
    pub async fn press_answer(&self, callback_id: &str, timeout: Duration) -> Call {
        self.wait_call("answerCallbackQuery", timeout, |call| {
            call.is("answerCallbackQuery") && call.body["callback_query_id"] == json!(callback_id)
        })
        .await
    }

    /// Makes a file available to getFile and the file download route.
    pub fn add_file(&self, file_id: &str, bytes: Vec<u8>) {
        self.state.lock().files.insert(file_id.into(), bytes);
    }

    /// Serves every size of `Msg::photo(.., prefix)`; returns the largest's bytes.
    pub fn add_photo(&self, prefix: &str) -> Vec<u8> {
        let files = updates::photo_files(prefix);
        let largest = files.last().expect("photos have sizes").1.clone();
        for (file_id, bytes) in files {
            self.add_file(&file_id, bytes);
        }
        largest
    }

    /// How many file downloads were asked for.
    pub fn downloads(&self) -> usize {
        self.state.lock().downloads
    }

    /// Serves the file of `Msg::document(.., file_id, ..)`; returns its bytes.
    pub fn add_document(&self, file_id: &str) -> Vec<u8> {
        let bytes = updates::fake_jpeg(file_id, DOCUMENT_LEN);
        self.add_file(file_id, bytes.clone());
        bytes
    }

    /// The next `n` calls of `method` get `failure` instead of an answer.
    pub fn fail_next(&self, method: &str, n: usize, failure: Failure) {
        let mut record = self.state.lock();
        let queue = record.failures.entry(method.to_ascii_lowercase()).or_default();
        queue.extend(std::iter::repeat_n(failure, n));
    }

    /// Every call so far, failed ones included, in the order they were
    /// answered (a long poll is recorded when it returns).
    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().calls.clone()
    }

    /// Successful calls of `method` (case-insensitive).
    pub fn calls_of(&self, method: &str) -> Vec<Call> {
        self.filter_calls(|call| call.is(method) && !call.failed)
    }

    /// Calls of `method`, failed ones included.
    pub fn attempts_of(&self, method: &str) -> Vec<Call> {
        self.filter_calls(|call| call.is(method))
    }

    fn filter_calls(&self, keep: impl Fn(&Call) -> bool) -> Vec<Call> {
        self.state.lock().calls.iter().filter(|call| keep(call)).cloned().collect()
    }

    /// Texts of successful sendMessage calls to `chat_id`, in order.
    pub fn sent_texts(&self, chat_id: i64) -> Vec<String> {
        self.calls_of("sendMessage")
            .iter()
            .filter(|call| call.chat_id() == Some(chat_id))
            .filter_map(|call| call.text().map(str::to_owned))
            .collect()
    }

    /// Waits until there are at least `count` successful calls of `method`
    /// and returns them all; panics with a dump of all calls on timeout.
    pub async fn wait_for(&self, method: &str, count: usize, timeout: Duration) -> Vec<Call> {
        let found = poll_until(timeout, || Some(self.calls_of(method)).filter(|calls| calls.len() >= count)).await;
        found.unwrap_or_else(|| self.fail(&format!("{count} successful {method} call(s) within {timeout:?}")))
    }

    /// Waits for the first successful call that satisfies `matches`.
    pub async fn wait_call(&self, what: &str, timeout: Duration, matches: impl Fn(&Call) -> bool) -> Call {
        let found = poll_until(timeout, || self.filter_calls(|call| !call.failed && matches(call)).into_iter().next());
        found.await.unwrap_or_else(|| self.fail(&format!("{what} within {timeout:?}")))
    }

    /// Successful sendMessage calls answering message `command_id` in `chat_id`, in order.
    pub fn replies(&self, chat_id: i64, command_id: i64) -> Vec<Call> {
        self.filter_calls(|call| {
            !call.failed
                && call.is("sendMessage")
                && call.chat_id() == Some(chat_id)
                && call.body["reply_parameters"]["message_id"] == json!(command_id)
        })
    }

    /// Waits for the `n`th reply to `command_id` and returns all replies so far.
    pub async fn wait_replies(&self, chat_id: i64, command_id: i64, n: usize, timeout: Duration) -> Vec<Call> {
        let found = poll_until(timeout, || {
            let replies = self.replies(chat_id, command_id);
            (replies.len() >= n).then_some(replies)
        });
        found.await.unwrap_or_else(|| {
            self.fail(&format!("{n} repl(ies) to message {command_id} in chat {chat_id} within {timeout:?}"))
        })
    }

    /// Waits for a sendMessage to `chat_id` whose text contains `needle`.
    pub async fn wait_text(&self, chat_id: i64, needle: &str, timeout: Duration) -> String {
        let what = format!("a message to {chat_id} containing {needle:?}");
        let call = self
            .wait_call(&what, timeout, |call| {
                call.is("sendMessage")
                    && call.chat_id() == Some(chat_id)
                    && call.text().is_some_and(|t| t.contains(needle))
            })
            .await;
        call.text().unwrap_or_default().to_owned()
    }

    /// One line per call (getUpdates summarised), for failure messages.
    pub fn dump(&self) -> String {
        let calls = self.calls();
        let polls = calls.iter().filter(|call| call.is("getUpdates")).count();
        let mut out = format!("{} calls ({polls} getUpdates not shown):\n", calls.len());
        for call in calls.iter().filter(|call| !call.is("getUpdates")) {
            out += &self.describe(call);
            out.push('\n');
        }
        out
    }

    fn describe(&self, call: &Call) -> String {
        let at = call.at.duration_since(self.state.started).as_secs_f64();
        let failed = if call.failed { " FAILED" } else { "" };
        let files: String = call.files.iter().map(|f| format!(" +{}({} bytes)", f.field, f.bytes.len())).collect();
        format!("  +{at:.3}s {}{failed} {}{files}", call.method, call.body)
    }

    fn fail(&self, expected: &str) -> ! {
        panic!("FakeTelegram: expected {expected}\n{}", self.dump())
    }
}

impl FakeState {
    fn lock(&self) -> MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn take_failure(&self, method: &str) -> Option<Failure> {
        self.lock().failures.get_mut(&method.to_ascii_lowercase())?.pop_front()
    }

    fn hand_out(&self, offset: i64, limit: usize) -> Vec<Value> {
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

    fn next_message_id(&self) -> i64 {
        let mut record = self.lock();
        record.last_message_id += 1;
        record.last_message_id
    }

    fn file_info(&self, params: &Value) -> Result<Value, ApiError> {
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

    fn file_bytes(&self, path: &str) -> Option<Vec<u8>> {
        let mut record = self.lock();
        record.downloads += 1;
        record.files.iter().find(|(file_id, _)| file_path(file_id) == path).map(|(_, bytes)| bytes.clone())
    }
}

fn file_path(file_id: &str) -> String {
    format!("photos/{file_id}.jpg")
}

async fn api(
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
    let (params, files) = request_params(&uri, &headers, &body);
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

async fn answer(state: &FakeState, method: &str, params: &Value, files: &[UploadedFile]) -> Result<Value, ApiError> {
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
        | "editmessagereplymarkup" => sent_message(state, method, params, files),
        "getchatmember" => chat_member(state, params),
        _ => Value::Bool(true),
    })
}

fn lowercase_first(method: &str) -> String {
    let mut chars = method.chars();
    chars.next().map(|first| first.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

fn bot_user() -> Value {
    json!({"id": BOT_ID, "is_bot": true, "first_name": "Sora", "username": BOT_USERNAME})
}

fn me() -> Value {
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

async fn get_updates(state: &FakeState, params: &Value) -> Value {
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
fn sent_message(state: &FakeState, method: &str, params: &Value, files: &[UploadedFile]) -> Value {
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
fn chat_member(state: &FakeState, params: &Value) -> Value {
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

fn copy_param(fields: &mut Map<String, Value>, params: &Value, key: &str) {
    if let Some(value) = params.get(key) {
        fields.insert(key.into(), value.clone());
    }
}

async fn download(State(state): State<Arc<FakeState>>, Path((token, path)): Path<(String, String)>) -> Response {
    if token != TOKEN {
        return ApiError::new(401, "Unauthorized").response();
    }
    match state.file_bytes(&path) {
        Some(bytes) => ([(header::CONTENT_TYPE, "image/jpeg")], bytes).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Parameters from the query string and from a JSON, form or multipart body.
fn request_params(uri: &Uri, headers: &HeaderMap, body: &[u8]) -> (Value, Vec<UploadedFile>) {
    let mut params = Map::new();
    let mut files = Vec::new();
    let mut add_text = |name: String, text: &str| {
        params.insert(name, field_value(text));
    };
    for (name, text) in query_pairs(uri.query().unwrap_or_default()) {
        add_text(name, &text);
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if let Some(boundary) = multipart::boundary(content_type) {
        for part in multipart::parse(body, boundary) {
            match part.file_name {
                Some(file_name) => {
                    files.push(UploadedFile { field: part.name, file_name: Some(file_name), bytes: part.bytes })
                }
                None => add_text(part.name, &String::from_utf8_lossy(&part.bytes)),
            }
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        for (name, text) in query_pairs(&String::from_utf8_lossy(body)) {
            add_text(name, &text);
        }
    } else if let Ok(Value::Object(json)) = serde_json::from_slice(body) {
        params.extend(json);
    }
    (Value::Object(params), files)
}

fn query_pairs(query: &str) -> Vec<(String, String)> {
    let uri: Uri = format!("/?{query}").parse().unwrap_or_default();
    Query::<Vec<(String, String)>>::try_from_uri(&uri).map(|Query(pairs)| pairs).unwrap_or_default()
}

/// A text field as the Bot API reads it: numbers, booleans and serialized
/// objects or arrays are JSON; anything else is a plain string.
fn field_value(text: &str) -> Value {
    match serde_json::from_str(text) {
        Ok(value @ (Value::Number(_) | Value::Bool(_) | Value::Object(_) | Value::Array(_))) => value,
        _ => Value::String(text.into()),
    }
}

/// An integer parameter, whether sent as a JSON number or as text.
fn int_param(params: &Value, key: &str) -> Option<i64> {
    let value = &params[key];
    value.as_i64().or_else(|| value.as_str()?.parse().ok())
}
