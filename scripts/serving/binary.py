"""The Open Inference Protocol's binary tensor data extension, as Triton and tritonclient speak it.

A request may carry its tensors as raw bytes after the JSON: the `Inference-Header-Content-Length`
header says how long the JSON part is, and each input with `parameters.binary_data_size` takes
that many bytes, in input order (little-endian numbers; BYTES elements each prefixed by a 4-byte
little-endian length). An answer carries an output the same way when the request asks for it
(`parameters.binary_data_output`, or `binary_data` on the output). Pure: bytes and documents in,
bytes and documents out; a malformed body is a RequestError naming the field.
"""
from __future__ import annotations

import struct
from typing import Any

import numpy as np

from scripts.core.web import RequestError

HEADER = "Inference-Header-Content-Length"
NUMBERS = {"FP64": "<f8", "FP32": "<f4", "INT64": "<i8", "INT32": "<i4"}
LENGTH = struct.Struct("<I")


def split(raw: bytes, header_length: str) -> tuple[bytes, bytes]:
    """(the JSON part, the binary part) of a body whose JSON part is header_length bytes."""
    if not header_length.strip().isdigit() or int(header_length) > len(raw):
        raise RequestError(400, HEADER, f"{header_length!r}: expected the JSON part's length in bytes "
                                        f"(at most the body's {len(raw)})")
    n = int(header_length)
    return raw[:n], raw[n:]


def decode(chunk: bytes, datatype: str, field: str) -> list:
    """A binary tensor's elements as a list."""
    if datatype == "BYTES":
        out, at = [], 0
        while at < len(chunk):
            if at + LENGTH.size > len(chunk):
                raise RequestError(400, field, "a BYTES element's 4-byte length is cut short")
            (size,) = LENGTH.unpack_from(chunk, at)
            at += LENGTH.size
            if at + size > len(chunk):
                raise RequestError(400, field, "a BYTES element is longer than the data left")
            try:
                out.append(chunk[at:at + size].decode("utf-8"))
            except UnicodeDecodeError:
                raise RequestError(400, field, "a BYTES element is not UTF-8") from None
            at += size
        return out
    if datatype == "BOOL":  # one byte each, 0 or 1
        octets = np.frombuffer(chunk, dtype=np.uint8)
        if (octets > 1).any():
            raise RequestError(400, field, "a BOOL element is a byte 0 or 1")
        return octets.astype(bool).tolist()
    if datatype not in NUMBERS:
        raise RequestError(400, field, f"binary data of datatype {datatype!r} is not supported")
    dtype = np.dtype(NUMBERS[datatype])
    if len(chunk) % dtype.itemsize:
        raise RequestError(400, field, f"{len(chunk)} bytes is not a whole number of {datatype} values")
    values = np.frombuffer(chunk, dtype=dtype)
    if dtype.kind == "f" and not np.isfinite(values).all():
        raise RequestError(400, field, "NaN and Infinity are not allowed: numbers must be finite")
    return values.tolist()


def attach_inputs(doc: Any, blob: bytes) -> None:
    """Give each input that names a binary_data_size its values from blob, in input order."""
    at = 0
    inputs = doc.get("inputs") if isinstance(doc, dict) else None
    for i, tensor in enumerate(inputs if isinstance(inputs, list) else []):
        parameters = tensor.get("parameters") if isinstance(tensor, dict) else None
        size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
        if size is None:
            continue
        field = f"inputs[{i}].parameters.binary_data_size"
        if type(size) is not int or size < 0 or at + size > len(blob):
            raise RequestError(400, field, f"{size!r}: expected a byte count within the {len(blob) - at} bytes left")
        tensor["data"] = decode(blob[at:at + size], str(tensor.get("datatype")), f"inputs[{i}].data")
        at += size
    if at != len(blob):
        raise RequestError(400, "body", f"{len(blob) - at} bytes of binary data that no input claims")


def wanted_outputs(doc: dict, names: list[str]) -> dict[str, bool]:
    """The outputs the request asks for (all when it names none), each with whether to send it as binary."""
    parameters = doc.get("parameters") or {}
    everything = bool(parameters.get("binary_data_output", False))
    requested = doc.get("outputs")
    if not requested:
        return {name: everything for name in names}
    return {o["name"]: bool((o.get("parameters") or {}).get("binary_data", everything)) for o in requested}


def encode_outputs(outputs: list[dict], binary: dict[str, bool]) -> tuple[list[dict], bytes]:
    """The answer's output tensors, those asked for as binary moved out of the JSON into the bytes."""
    header, blob = [], []
    for tensor in outputs:
        if tensor["name"] not in binary:
            continue
        if not binary[tensor["name"]]:
            header.append(tensor)
            continue
        data = np.ascontiguousarray(tensor["data"], dtype=NUMBERS[tensor["datatype"]]).tobytes()
        header.append({k: v for k, v in tensor.items() if k != "data"} | {"parameters": {"binary_data_size": len(data)}})
        blob.append(data)
    return header, b"".join(blob)
