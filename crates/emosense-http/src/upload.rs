//! `POST /api/v1/emotion/analyze/file`: a `multipart/form-data` body with a `file` and its `analysis_type`, parsed
//! as it streams in. Reading stops as soon as the file passes the size limit of its kind (413), so an oversize
//! upload is refused without being buffered.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use emosense_core::{Budget, Config, Error, FileFacts, Limit, MediaKind, Tier};
use futures_util::Stream;
use http::{Request, Response, StatusCode};

use crate::routes::answered;
use crate::{json_response, Api, ApiError};

/// Longest value accepted in a form field other than `file`.
const MAX_FIELD_BYTES: usize = 64;

/// What the client asked the file to be read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AnalysisType {
    Kind(MediaKind),
    /// Read the kind from the file's first bytes.
    Auto,
}

impl AnalysisType {
    fn parse(value: &str) -> Result<Self, ApiError> {
        Ok(match value.trim() {
            "text" => AnalysisType::Kind(MediaKind::Text),
            "audio" => AnalysisType::Kind(MediaKind::Audio),
            "video" | "image" => AnalysisType::Kind(MediaKind::Video),
            "auto" => AnalysisType::Auto,
            other => return Err(Error::invalid("analysis_type", format!("must be text, audio, video or auto, not {other:?}")).into()),
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            AnalysisType::Kind(kind) => kind.as_str(),
            AnalysisType::Auto => "auto",
        }
    }
}

/// A parsed upload.
#[derive(Debug)]
pub(crate) struct Upload {
    analysis_type: AnalysisType,
    kind: MediaKind,
    bytes: Vec<u8>,
    file_name: Option<String>,
    tier: Option<Tier>,
}

/// The largest file limit of any kind (used until the file's kind is known).
fn largest_limit(config: &Config) -> Limit {
    [MediaKind::Text, MediaKind::Audio, MediaKind::Video].into_iter().map(|k| config.limits.file(k)).max_by_key(|l| l.value).unwrap_or(config.limits.media_file())
}

fn too_large(actual: u64, limit: Limit) -> ApiError {
    limit.refusal("file", actual).into()
}

/// Bytes a form may hold beyond its file (part headers, boundaries, the short fields).
const FORM_OVERHEAD_BYTES: u64 = 64 << 10;

/// Largest body the route accepts: the largest file of any kind and the rest of the form.
pub(crate) fn body_limit(config: &Config) -> u64 {
    largest_limit(config).value + FORM_OVERHEAD_BYTES
}

/// The body as the multipart parser pulls it: counts bytes and fails once they pass the current limit (which
/// tightens when the file's kind becomes known), and hands over one chunk per poll so the parser hands each chunk
/// on before it pulls the next (it would otherwise buffer all the data that has arrived).
struct MeteredBody<S> {
    inner: Pin<Box<S>>,
    pulled: u64,
    limit: Arc<Mutex<Limit>>,
    yield_next: bool,
}

/// The body passed the file's size limit.
#[derive(Debug, thiserror::Error)]
#[error("file passed its size limit")]
struct LimitReached {
    pulled: u64,
    limit: Limit,
}

impl<S, E> Stream for MeteredBody<S>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Item = Result<Bytes, Box<dyn std::error::Error + Send + Sync>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if std::mem::take(&mut self.yield_next) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        match self.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.pulled += chunk.len() as u64;
                self.yield_next = true;
                let limit = *self.limit.lock().unwrap_or_else(|e| e.into_inner());
                if self.pulled > limit.value + FORM_OVERHEAD_BYTES {
                    return Poll::Ready(Some(Err(Box::new(LimitReached { pulled: self.pulled, limit }))));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Reads the multipart body `stream` whose `Content-Type` is `content_type`.
pub(crate) async fn read<S, E>(config: &Config, content_type: Option<&str>, stream: S) -> Result<Upload, ApiError>
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
{
    let content_type = content_type.unwrap_or("");
    if !content_type.trim().to_ascii_lowercase().starts_with("multipart/form-data") {
        let shown = if content_type.is_empty() { "none".to_owned() } else { format!("{content_type:?}") };
        return Err(ApiError::UnsupportedMediaType(format!("expected Content-Type: multipart/form-data, got {shown}")));
    }
    let boundary = multer::parse_boundary(content_type).map_err(|e| ApiError::BadRequest(format!("Content-Type: {e}")))?;
    let body_limit = Arc::new(Mutex::new(largest_limit(config)));
    let set_limit = |limit| *body_limit.lock().unwrap_or_else(|e| e.into_inner()) = limit;
    let metered = MeteredBody { inner: Box::pin(stream), pulled: 0, limit: body_limit.clone(), yield_next: false };
    let mut multipart = multer::Multipart::new(metered, boundary);
    let (mut analysis_type, mut tier, mut file) = (None, None, None::<(Vec<u8>, Option<String>)>);
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name().unwrap_or_default() {
            "analysis_type" => {
                let parsed = AnalysisType::parse(&small_field("analysis_type", field).await?)?;
                if let AnalysisType::Kind(kind) = parsed {
                    set_limit(config.limits.file(kind));
                }
                analysis_type = Some(parsed);
            }
            "tier" => {
                let value = small_field("tier", field).await?;
                tier = Some(serde_json::from_value(value.trim().into()).map_err(|_| Error::invalid("tier", format!("must be primary, secondary or fallback, not {value:?}")))?);
            }
            "file" => {
                if file.is_some() {
                    return Err(Error::invalid("file", "send one file per request").into());
                }
                let file_name = field.file_name().map(str::to_owned);
                let mut limit = match analysis_type {
                    Some(AnalysisType::Kind(kind)) => Some(config.limits.file(kind)),
                    _ => None,
                };
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    bytes.extend_from_slice(&chunk);
                    if limit.is_none() && bytes.len() >= 16 {
                        limit = MediaKind::sniff(&bytes).map(|kind| config.limits.file(kind));
                        limit.into_iter().for_each(set_limit);
                    }
                    let limit = limit.unwrap_or_else(|| largest_limit(config));
                    if bytes.len() as u64 > limit.value {
                        return Err(too_large(bytes.len() as u64, limit));
                    }
                }
                file = Some((bytes, file_name));
            }
            "" => return Err(Error::invalid("body", "a multipart part has no name").into()),
            other => return Err(Error::invalid(other, "is not a field of this route (file, analysis_type, tier)").into()),
        }
    }
    let (bytes, file_name) = file.ok_or_else(|| Error::invalid("file", "is missing: send the file as the multipart field named file"))?;
    let analysis_type = analysis_type.unwrap_or(AnalysisType::Auto);
    let kind = match analysis_type {
        AnalysisType::Kind(kind) => kind,
        AnalysisType::Auto if bytes.is_empty() => return Err(Error::invalid("file", "is empty").into()),
        AnalysisType::Auto => MediaKind::sniff(&bytes).ok_or_else(|| {
            Error::unsupported("file", "is not UTF-8 text, audio, an image or a video (read from its first bytes)")
        })?,
    };
    let limit = config.limits.file(kind);
    if bytes.len() as u64 > limit.value {
        return Err(too_large(bytes.len() as u64, limit));
    }
    Ok(Upload { analysis_type, kind, bytes, file_name, tier })
}

/// The whole value of a short form field.
async fn small_field(name: &str, mut field: multer::Field<'_>) -> Result<String, ApiError> {
    let mut value = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        value.extend_from_slice(&chunk);
        if value.len() > MAX_FIELD_BYTES {
            return Err(Error::invalid(name, format!("is longer than {MAX_FIELD_BYTES} bytes")).into());
        }
    }
    String::from_utf8(value).map_err(|_| Error::invalid(name, "is not UTF-8").into())
}

fn multipart_error(e: multer::Error) -> ApiError {
    if let multer::Error::StreamReadFailed(cause) = &e {
        if let Some(reached) = cause.downcast_ref::<LimitReached>() {
            return too_large(reached.pulled, reached.limit);
        }
        return ApiError::BadRequest(format!("could not read the request body: {cause}"));
    }
    ApiError::BadRequest(format!("malformed multipart body: {e}"))
}

/// Reads an upload whose body is already in memory (serverless front ends).
pub(crate) fn read_buffered(api: &Api, request: &Request<Bytes>) -> Result<Upload, ApiError> {
    let content_type = request.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let body = request.body().clone();
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    futures_executor::block_on(read(api.engine().config(), content_type, stream))
}

/// Analyses an upload with the modality of its kind.
pub(crate) fn analyze(api: &Api, upload: Upload, budget: &Budget) -> Result<Response<Bytes>, ApiError> {
    let mut result = api.engine().analyze_file("file", upload.kind, &upload.bytes, upload.tier, budget)?;
    result.metadata.details.file = Some(FileFacts {
        name: upload.file_name,
        bytes: upload.bytes.len(),
        analysis_type: upload.analysis_type.as_str().to_owned(),
        kind: upload.kind.as_str().to_owned(),
    });
    Ok(answered(json_response(StatusCode::OK, &result), std::slice::from_ref(&result)))
}
