//! A fake Telegram Bot API: records every call, hands out queued updates by
//! long polling and answers with objects teloxide can deserialize.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::server::{Server, poll_until};
use crate::updates::{self, DOCUMENT_LEN};

mod answers;
use answers::{api, download, int_param};

pub const TOKEN: &str = "123456789:FAKE-token-of-the-fake-bot-api-not-a-secret";
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
    /// 403 with this description, e.g. "Forbidden: bot can't initiate
    /// conversation with a user" (a private chat never started).
    Forbidden(String),
    /// 500: Telegram could not answer.
    ServerError,
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

    /// `from` presses Pay on an invoice: a `pre_checkout_query` update.
    /// Returns the query id (see `pre_checkout_answer`).
    pub fn pre_checkout(&self, from: &updates::User, payment: &updates::Payment) -> String {
        let (id, update) = updates::pre_checkout_query(from, payment);
        self.push_update(update);
        id
    }

    /// The bot's answerPreCheckoutQuery for `query_id`, waiting for it.
    pub async fn pre_checkout_answer(&self, query_id: &str, timeout: Duration) -> Call {
        self.wait_call("answerPreCheckoutQuery", timeout, |call| {
            call.is("answerPreCheckoutQuery") && call.body["pre_checkout_query_id"] == json!(query_id)
        })
        .await
    }

    /// Telegram took the Stars: the `successful_payment` message in `chat`.
    /// Returns the message as pushed (push it again to deliver it twice).
    pub fn pay(
        &self,
        chat: &updates::Chat,
        from: &updates::User,
        payment: &updates::Payment,
        charge_id: &str,
    ) -> Value {
        let message = updates::successful_payment(chat, from, payment, charge_id);
        self.push_message(message.clone());
        message
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

    /// The text of the bot's message replying to message `message_id` in
    /// `chat_id`, waiting for it.
    pub async fn wait_reply_text(&self, chat_id: i64, message_id: i64, timeout: Duration) -> String {
        let what = format!("a reply to message {message_id} in chat {chat_id}");
        let call = self
            .wait_call(&what, timeout, |c| {
                c.is("sendMessage")
                    && c.chat_id() == Some(chat_id)
                    && c.body["reply_parameters"]["message_id"] == json!(message_id)
            })
            .await;
        call.text().unwrap_or_default().to_owned()
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
