//! Builders for real Bot API objects: what Telegram puts into updates, and
//! the media objects the fake returns for sent messages.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// Sizes of every photo built here, small to large, as Telegram lists them:
/// (file id suffix, width, height, byte length).
const PHOTO_SIZES: [(&str, u32, u32, usize); 3] =
    [("small", 90, 160, 1_500), ("medium", 320, 568, 6_000), ("large", 720, 1280, 24_000)];

/// Byte length of documents built with [`Msg::document`] (see `FakeTelegram::add_document`).
pub const DOCUMENT_LEN: usize = 30_000;

/// Message ids of incoming messages; the fake numbers the bot's own
/// messages from 10_000, so the two never meet.
static NEXT_MESSAGE_ID: AtomicI64 = AtomicI64::new(1);

pub fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs() as i64
}

fn display_name(id: i64) -> String {
    format!("User {id}")
}

#[derive(Clone, Debug)]
pub struct Chat {
    pub id: i64,
}

impl Chat {
    /// A private chat's id is the user's id.
    pub fn private(user_id: i64) -> Chat {
        assert!(user_id > 0, "user ids are positive, got {user_id}");
        Chat { id: user_id }
    }

    /// A supergroup; its id must be negative, like Telegram's `-100…` ids.
    pub fn group(chat_id: i64) -> Chat {
        assert!(chat_id < 0, "group chat ids are negative, got {chat_id}");
        Chat { id: chat_id }
    }

    pub fn json(&self) -> Value {
        if self.id > 0 {
            json!({"id": self.id, "type": "private", "first_name": display_name(self.id)})
        } else {
            json!({"id": self.id, "type": "supergroup", "title": format!("Group {}", -self.id)})
        }
    }
}

#[derive(Clone, Debug)]
pub struct User {
    pub id: i64,
    language_code: String,
}

impl User {
    /// A human user whose client speaks English.
    pub fn new(id: i64) -> User {
        User { id, language_code: "en".into() }
    }

    pub fn lang(mut self, language_code: &str) -> User {
        self.language_code = language_code.into();
        self
    }

    pub fn json(&self) -> Value {
        json!({
            "id": self.id,
            "is_bot": false,
            "first_name": display_name(self.id),
            "language_code": self.language_code,
        })
    }
}

#[derive(Clone, Debug)]
enum Content {
    Text(String),
    Photo { prefix: String },
    Document { file_id: String, mime_type: String, file_name: String },
}

/// An incoming message. `build()` gives the `Message` JSON; hand it to
/// `FakeTelegram::push_message`.
#[derive(Clone, Debug)]
pub struct Msg {
    chat: Chat,
    from: User,
    message_id: Option<i64>,
    content: Content,
    caption: Option<String>,
    media_group_id: Option<String>,
    reply_to: Option<Value>,
}

impl Msg {
    fn new(chat: &Chat, from: &User, content: Content) -> Msg {
        Msg {
            chat: chat.clone(),
            from: from.clone(),
            message_id: None,
            content,
            caption: None,
            media_group_id: None,
            reply_to: None,
        }
    }

    /// A text message; a leading `/command` gets its `bot_command` entity.
    pub fn text(chat: &Chat, from: &User, text: &str) -> Msg {
        Msg::new(chat, from, Content::Text(text.into()))
    }

    /// A photo in three sizes with file ids `{prefix}-small`, `-medium`,
    /// `-large`; `FakeTelegram::add_photo(prefix)` serves their bytes.
    pub fn photo(chat: &Chat, from: &User, file_id_prefix: &str) -> Msg {
        Msg::new(chat, from, Content::Photo { prefix: file_id_prefix.into() })
    }

    /// A file sent without compression ("send as file"), e.g. an image/png.
    /// `FakeTelegram::add_document(file_id)` serves its bytes.
    pub fn document(chat: &Chat, from: &User, file_id: &str, mime_type: &str, file_name: &str) -> Msg {
        let content =
            Content::Document { file_id: file_id.into(), mime_type: mime_type.into(), file_name: file_name.into() };
        Msg::new(chat, from, content)
    }

    /// Caption of a photo or document; a leading `/command` gets its entity.
    pub fn caption(mut self, text: &str) -> Msg {
        assert!(!matches!(self.content, Content::Text(_)), "text messages have no caption");
        self.caption = Some(text.into());
        self
    }

    pub fn album(mut self, media_group_id: &str) -> Msg {
        self.media_group_id = Some(media_group_id.into());
        self
    }

    pub fn reply_to(mut self, message: &Value) -> Msg {
        self.reply_to = Some(message.clone());
        self
    }

    pub fn id(mut self, message_id: i64) -> Msg {
        self.message_id = Some(message_id);
        self
    }

    pub fn build(self) -> Value {
        let message_id = self.message_id.unwrap_or_else(|| NEXT_MESSAGE_ID.fetch_add(1, Ordering::Relaxed));
        let mut message = json!({
            "message_id": message_id,
            "date": unix_now(),
            "chat": self.chat.json(),
            "from": self.from.json(),
        });
        let fields = message.as_object_mut().expect("object");
        match self.content {
            Content::Text(text) => put_text(fields, "text", "entities", text),
            Content::Photo { prefix } => {
                fields.insert("photo".into(), photo_sizes(&prefix));
            }
            Content::Document { file_id, mime_type, file_name } => {
                let document = document_json(&file_id, &mime_type, &file_name, DOCUMENT_LEN);
                fields.insert("document".into(), document);
            }
        }
        if let Some(caption) = self.caption {
            put_text(fields, "caption", "caption_entities", caption);
        }
        if let Some(group) = self.media_group_id {
            fields.insert("media_group_id".into(), group.into());
        }
        if let Some(mut replied) = self.reply_to {
            // Telegram nests replies one level deep only.
            replied.as_object_mut().expect("reply_to takes a message object").remove("reply_to_message");
            fields.insert("reply_to_message".into(), replied);
        }
        message
    }
}

fn put_text(fields: &mut Map<String, Value>, text_key: &str, entities_key: &str, text: String) {
    if let Some(entity) = command_entity(&text) {
        fields.insert(entities_key.into(), json!([entity]));
    }
    fields.insert(text_key.into(), text.into());
}

/// The `bot_command` entity Telegram adds for a leading `/command[@bot]`.
/// Entity offsets and lengths count UTF-16 code units.
fn command_entity(text: &str) -> Option<Value> {
    if !text.starts_with('/') {
        return None;
    }
    let command = text.split_whitespace().next()?;
    Some(json!({"type": "bot_command", "offset": 0, "length": command.encode_utf16().count()}))
}

pub fn photo_size_id(prefix: &str, size: &str) -> String {
    format!("{prefix}-{size}")
}

/// Telegram's `file_unique_id` for a file id of this fake.
pub fn unique_id(file_id: &str) -> String {
    format!("{file_id}-uniq")
}

/// `PhotoSize` objects of a photo, small to large.
pub fn photo_sizes(prefix: &str) -> Value {
    PHOTO_SIZES
        .iter()
        .map(|&(size, width, height, len)| {
            let file_id = photo_size_id(prefix, size);
            json!({
                "file_id": file_id,
                "file_unique_id": unique_id(&file_id),
                "width": width,
                "height": height,
                "file_size": len,
            })
        })
        .collect()
}

/// The bytes of every size of a photo, keyed by file id.
pub fn photo_files(prefix: &str) -> Vec<(String, Vec<u8>)> {
    PHOTO_SIZES
        .iter()
        .map(|&(size, _, _, len)| {
            let file_id = photo_size_id(prefix, size);
            let bytes = fake_jpeg(&file_id, len);
            (file_id, bytes)
        })
        .collect()
}

pub fn document_json(file_id: &str, mime_type: &str, file_name: &str, file_size: usize) -> Value {
    json!({
        "file_id": file_id,
        "file_unique_id": unique_id(file_id),
        "file_name": file_name,
        "mime_type": mime_type,
        "file_size": file_size,
    })
}

pub fn video_json(file_id: &str, file_size: usize) -> Value {
    json!({
        "file_id": file_id,
        "file_unique_id": unique_id(file_id),
        "width": 720,
        "height": 1280,
        "duration": 15,
        "mime_type": "video/mp4",
        "file_size": file_size,
    })
}

/// `len` recognisable bytes: a JPEG start marker, `tag`, zero padding and
/// the end marker, so a test can tell which file reached the video API.
pub fn fake_jpeg(tag: &str, len: usize) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0];
    bytes.extend_from_slice(tag.as_bytes());
    bytes.resize(len.max(bytes.len() + 2) - 2, 0);
    bytes.extend_from_slice(&[0xFF, 0xD9]);
    bytes
}

/// The callback data of the button labelled `label` in an inline keyboard
/// markup as the bot sent it.
pub fn button_data(markup: &Value, label: &str) -> Option<String> {
    markup["inline_keyboard"]
        .as_array()?
        .iter()
        .flat_map(|row| row.as_array().into_iter().flatten())
        .find(|button| button["text"] == label)
        .and_then(|button| button["callback_data"].as_str().map(str::to_owned))
}

/// Every button label of an inline keyboard markup, row by row.
pub fn button_labels(markup: &Value) -> Vec<Vec<String>> {
    markup["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|row| {
            row.as_array()
                .into_iter()
                .flatten()
                .map(|button| button["text"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .collect()
}

static NEXT_QUERY_ID: AtomicI64 = AtomicI64::new(1);

/// A `callback_query` update: `from` pressed a button with `data` under
/// `message` (a Message object the bot sent). Returns the query id and the update.
pub fn callback_query(from: &User, message: &Value, data: &str) -> (String, Value) {
    let id = format!("cbq-{}", NEXT_QUERY_ID.fetch_add(1, Ordering::Relaxed));
    let update = json!({"callback_query": {
        "id": id,
        "from": from.json(),
        "message": message,
        "chat_instance": format!("instance{}", message["chat"]["id"]),
        "data": data,
    }});
    (id, update)
}

/// What a Stars payment carries, as Telegram reports it back: the invoice's
/// payload, currency and amount (a test may alter any of them).
#[derive(Clone, Debug)]
pub struct Payment {
    pub payload: String,
    pub currency: String,
    pub total_amount: i64,
}

impl Payment {
    /// The payment of the invoice the bot sent with `sendInvoice` (`call.body`).
    pub fn of_invoice(invoice: &Value) -> Payment {
        Payment {
            payload: invoice["payload"].as_str().expect("invoice payload").to_owned(),
            currency: invoice["currency"].as_str().expect("invoice currency").to_owned(),
            total_amount: invoice["prices"][0]["amount"].as_i64().expect("one price"),
        }
    }
}

/// A `pre_checkout_query` update: `from` pressed Pay on an invoice.
pub fn pre_checkout_query(from: &User, payment: &Payment) -> (String, Value) {
    let id = format!("pcq-{}", NEXT_QUERY_ID.fetch_add(1, Ordering::Relaxed));
    let update = json!({"pre_checkout_query": {
        "id": id,
        "from": from.json(),
        "currency": payment.currency,
        "total_amount": payment.total_amount,
        "invoice_payload": payment.payload,
    }});
    (id, update)
}

/// The service message Telegram sends into `chat` once `from` has paid.
pub fn successful_payment(chat: &Chat, from: &User, payment: &Payment, charge_id: &str) -> Value {
    let message_id = NEXT_MESSAGE_ID.fetch_add(1, Ordering::Relaxed);
    json!({
        "message_id": message_id,
        "date": unix_now(),
        "chat": chat.json(),
        "from": from.json(),
        "successful_payment": {
            "currency": payment.currency,
            "total_amount": payment.total_amount,
            "invoice_payload": payment.payload,
            "telegram_payment_charge_id": charge_id,
            "provider_payment_charge_id": "",
        },
    })
}

/// An `inline_query` update: `from` typed `@bot query` in some chat.
pub fn inline_query(from: &User, query: &str) -> (String, Value) {
    let id = format!("iq-{}", NEXT_QUERY_ID.fetch_add(1, Ordering::Relaxed));
    let update = json!({"inline_query": {"id": id, "from": from.json(), "query": query, "offset": ""}});
    (id, update)
}
