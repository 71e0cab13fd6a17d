"""OpenAPI generation: each operation says which token scope it needs."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema


class ScopedAutoSchema(AutoSchema):
    def get_description(self) -> str:  # type: ignore[override]
        description = super().get_description() or ""
        required: dict[str, tuple[str, ...]] = getattr(self.view, "required_scopes", {})
        action = getattr(self.view, "action", None) or self.method.lower()
        scopes = required.get(action) or required.get("*")
        if not scopes:
            return description
        needed = " or ".join(f"`{scope}`" for scope in scopes)
        return f"{description}\n\nToken scope: {needed}.".strip()


# --- Post-processing of the generated document -----------------------------------------------

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details, in the language of Accept-Language.",
    "properties": {
        "type": {"type": "string", "description": "A URI reference naming the kind of problem."},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "object",
            "description": 'Messages per request field ("publish_at", "variants.nl", "non_field_errors").',
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
        "codes": {
            "type": "object",
            "description": (
                "When the errors have codes (e.g. `wrong_language`): the same keys as `errors`, "
                'one code per message in the same order ("invalid" for one without).'
            ),
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["type", "title", "status", "detail"],
}

# Every status any operation can answer with a problem: validation, authentication, scope,
# missing object, unacceptable Accept, state conflict, body too large, media type, throttle.
PROBLEM_STATUSES = {
    "400": "The request is not valid (field errors under `errors`).",
    "401": "No valid token.",
    "403": "The token's scopes or area do not allow this.",
    "404": "Not found (or outside the token's area).",
    "406": "Cannot answer in the requested format.",
    "409": "Conflicts with the current state (or the Idempotency-Key was used with another body).",
    "413": "The request body is too large.",
    "415": "Unsupported media type.",
    "429": "Too many requests: wait for Retry-After seconds.",
}
BODILESS = {"get", "head", "delete"}
WITH_BODY_ONLY = {"409", "413", "415"}

# Follow-ups a client (and the stateful fuzzer) can take from a response carrying an object's id.
FOLLOW_UPS = {
    "/api/v1/messages/{id}/": ("get", "patch"),
    "/api/v1/messages/{id}/submit/": ("post",),
    "/api/v1/messages/{id}/approve/": ("post",),
    "/api/v1/messages/{id}/reject/": ("post",),
    "/api/v1/messages/{id}/cancel/": ("post",),
    "/api/v1/messages/{id}/retract/": ("post",),
    "/api/v1/messages/{id}/deliveries/": ("get",),
    "/api/v1/messages/{id}/attachments/": ("post",),
    "/api/v1/alerts/{id}/": ("get",),
    "/api/v1/alerts/{id}/updates/": ("post",),
    "/api/v1/alerts/{id}/cap.xml": ("get",),
    "/api/v1/segments/{id}/": ("get",),
    "/api/v1/channels/{id}/": ("get", "patch"),
}


def _links_from(path: str, paths: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI links from an operation under `path` to its resource's follow-ups.

    A message's actions answer with the message, so each of them links to the others too:
    create → submit → approve → retract is a path the stateful fuzzer can walk."""
    prefix = "/".join(path.split("/")[:4]) + "/"  # "/api/v1/messages/"
    links: dict[str, Any] = {}
    for target, methods in FOLLOW_UPS.items():
        if not target.startswith(prefix):
            continue
        for method in methods:
            operation = paths.get(target, {}).get(method)
            if operation is None:
                continue
            links[operation["operationId"]] = {
                "operationId": operation["operationId"],
                "parameters": {"id": "$response.body#/id"},
            }
    return links


def problem_responses_and_links(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular post-processing hook: every error is an `application/problem+json`
    Problem, documented on every operation that can answer it; responses that return an
    object link to the operations that take its id."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    paths: dict[str, Any] = result.get("paths", {})
    for path, operations in paths.items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for code, description in PROBLEM_STATUSES.items():
                if method in BODILESS and code in WITH_BODY_ONLY:
                    responses.pop(code, None)
                    continue
                responses[code] = {"description": description, "content": problem}
            for code in ("200", "201"):
                success = responses.get(code)
                # An attachment's id is not its message's: it links nowhere.
                if success and not path.endswith("/attachments/"):
                    links = _links_from(path, paths)
                    if links and _returns_an_id(success, result):
                        success["links"] = links
    return result


def _returns_an_id(response: dict[str, Any], result: dict[str, Any]) -> bool:
    """True when the response body is one object with an `id` (not a page of them)."""
    for media in response.get("content", {}).values():
        schema = media.get("schema", {})
        ref = schema.get("$ref", "")
        if ref.startswith("#/components/schemas/"):
            schema = result["components"]["schemas"].get(ref.rsplit("/", 1)[1], {})
        if "id" in schema.get("properties", {}):
            return True
    return False
