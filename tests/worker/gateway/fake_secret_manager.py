"""A local gRPC server implementing Secret Manager's AccessSecretVersion.

It uses the client library's own request and response types, so the real client runs against it.
"""

from __future__ import annotations

from concurrent import futures

import grpc
from google.cloud.secretmanager_v1 import types

METHOD = "/google.cloud.secretmanager.v1.SecretManagerService/AccessSecretVersion"


class FakeSecretManager:
    def __init__(self) -> None:
        self.secrets: dict[str, bytes] = {}
        self.denied: set[str] = set()
        self.calls: list[str] = []
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        handler = grpc.unary_unary_rpc_method_handler(
            self._access,
            request_deserializer=types.AccessSecretVersionRequest.deserialize,
            response_serializer=types.AccessSecretVersionResponse.serialize,
        )
        self.server.add_generic_rpc_handlers(
            [
                grpc.method_handlers_generic_handler(
                    "google.cloud.secretmanager.v1.SecretManagerService",
                    {"AccessSecretVersion": handler},
                )
            ]
        )
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _access(self, request: types.AccessSecretVersionRequest, context: grpc.ServicerContext):
        self.calls.append(request.name)
        if request.name in self.denied:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "denied")
        data = self.secrets.get(request.name)
        if data is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"{request.name} not found")
        return types.AccessSecretVersionResponse(
            name=request.name, payload=types.SecretPayload(data=data)
        )

    def __enter__(self) -> FakeSecretManager:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop(grace=None)
