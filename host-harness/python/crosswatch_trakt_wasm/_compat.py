"""Two targeted fixes for the component value conversion of the ``wasmtime`` package (50.x),
applied once when the runtime loads.

1. Correctness. An untagged ``result``/``variant`` picks the case of a Python value with
   ``isinstance(value, <classes of the case>)``, and an ``option`` case counts ``object``
   among its classes (for ``none``). In ``result<option<string>, state-error>`` (our
   ``state.read``) every error value therefore matched the ``ok`` case first and lowering
   failed with "value not valid for this variant", a trap instead of the typed error. The fix
   tries the cases whose classes do not include ``object`` first, which changes nothing for
   unambiguous values.

2. Speed, values. ``list<u8>`` (HTTP bodies) is converted one byte at a time through
   ctypes (about 1 s per MiB). The fix copies the bytes in one pass, using the C layout of
   ``wasmtime_component_val_t`` (kind byte at offset 0, payload at 8, 32 bytes each); it is
   only installed after checking that layout.

3. Speed, types. Every converted value re-reads its type through the C API (a record's
   field list, an option's payload type, whether a variant is tagged): a 5,000-entry index
   spent most of its time there. Type objects never change, so these answers are memoised on
   each type object (child type objects are then shared by all values of a list).

All are applied only when the installed version has the attributes they replace.
"""

from __future__ import annotations

import ctypes
from ctypes import byref
from typing import Any, Optional, Set, Tuple

_APPLIED = False


def apply() -> None:
    global _APPLIED
    if _APPLIED:
        return
    _APPLIED = True
    from wasmtime.component import _types as t

    _fix_untagged_lowering(t)
    _fast_bytes(t)
    _memoize_types(t)
    _fast_records(t)


def _fast_records(t: Any) -> None:
    """Lift records without decoding every field name again (the type already knows them)."""
    ffi = t.ffi
    RecordType = getattr(t, "RecordType", None)
    Record = getattr(t, "Record", None)
    if RecordType is None or Record is None or not hasattr(ffi, "wasmtime_component_valrecord_delete"):
        return
    kind_record = ffi.WASMTIME_COMPONENT_RECORD.value
    kind_bool = ffi.WASMTIME_COMPONENT_BOOL
    orig = RecordType.convert_from_c

    def convert_from_c(self: Any, c: Any) -> Any:
        fields = self.fields
        if c.kind != kind_record or c.of.record.size != len(fields):
            return orig(self, c)
        try:
            ret = Record()
            d = ret.__dict__
            data = c.of.record.data
            for i, (name, ty) in enumerate(fields):
                val = data[i].val
                d[name] = ty.convert_from_c(val)
                val.kind = kind_bool
                val.of.boolean = False
            return ret
        finally:
            ffi.wasmtime_component_valrecord_delete(c.of.record)

    RecordType.convert_from_c = convert_from_c


def _memoize_types(t: Any) -> None:
    def memo_property(cls: Any, attr: str) -> None:
        prop = cls.__dict__.get(attr)
        if not isinstance(prop, property) or prop.fget is None:
            return
        fget = prop.fget
        slot = f"_cw_memo_{attr}"

        def get(self: Any) -> Any:
            d = self.__dict__
            if slot not in d:
                d[slot] = fget(self)
            return d[slot]

        setattr(cls, attr, property(get, doc=prop.__doc__))

    def memo_method(cls: Any, attr: str) -> None:
        fn = cls.__dict__.get(attr)
        if not callable(fn):
            return
        slot = f"_cw_memo_{attr}"

        def call(self: Any) -> Any:
            d = self.__dict__
            if slot not in d:
                d[slot] = fn(self)
            return d[slot]

        setattr(cls, attr, call)

    for cls_name, attrs in (
        ("RecordType", ("fields",)),
        ("TupleType", ("elements",)),
        ("ListType", ("element",)),
        ("VariantType", ("cases",)),
        ("OptionType", ("payload",)),
        ("ResultType", ("ok", "err")),
        ("EnumType", ("names",)),
        ("FlagsType", ("names",)),
    ):
        cls = getattr(t, cls_name, None)
        if cls is not None:
            for attr in attrs:
                memo_property(cls, attr)
    for cls_name in ("VariantLikeType", "VariantType", "OptionType", "ResultType"):
        cls = getattr(t, cls_name, None)
        if cls is not None:
            for attr in ("_tagged", "_cases"):
                if attr in cls.__dict__:
                    memo_method(cls, attr)


def _fix_untagged_lowering(t: Any) -> None:
    cls = getattr(t, "VariantLikeType", None)
    if cls is None or not hasattr(cls, "_lower") or not hasattr(t, "Variant"):
        return
    ffi = t.ffi
    Variant = t.Variant

    def _lower(self: Any, store: Any, val: Any) -> Tuple[str, Optional[Any]]:
        tagged = self._tagged()
        if tagged and not isinstance(val, Variant):
            raise TypeError("expected Variant type")
        cases = self._cases()
        chosen = None
        if tagged:
            for name, ty in cases:
                if name == val.tag:
                    chosen = (name, ty, val.payload)
                    break
        else:
            generic = []
            for name, ty in cases:
                if ty is None:
                    if val is None and chosen is None:
                        chosen = (name, None, None)
                    continue
                classes: Set[type] = set()
                ty.add_classes(classes)
                if object in classes:
                    generic.append((name, ty, classes))
                    continue
                if chosen is None and isinstance(val, tuple(classes)):
                    chosen = (name, ty, val)
            if chosen is None:
                for name, ty, classes in generic:
                    if isinstance(val, tuple(classes)):
                        chosen = (name, ty, val)
                        break
        if chosen is None:
            raise ValueError("value not valid for this variant")
        name, ty, payload = chosen
        if ty is None:
            return (name, None)
        raw = ffi.wasmtime_component_val_t()
        ty.convert_to_c(store, payload, ctypes.pointer(raw))
        return (name, ffi.wasmtime_component_val_new(byref(raw)))

    cls._lower = _lower


def _fast_bytes(t: Any) -> None:
    ffi = t.ffi
    ListType = getattr(t, "ListType", None)
    if ListType is None or not hasattr(ListType, "_is_bytes"):
        return
    val_t = ffi.wasmtime_component_val_t
    size = ctypes.sizeof(val_t)
    if (size, val_t.kind.offset, val_t.of.offset) != (32, 0, 8):
        return
    kind_u8 = ffi.WASMTIME_COMPONENT_U8.value
    kind_list = ffi.WASMTIME_COMPONENT_LIST
    orig_to_c = ListType.convert_to_c
    orig_from_c = ListType.convert_from_c

    def convert_to_c(self: Any, store: Any, val: Any, ptr: Any) -> None:
        if not self._is_bytes():
            return orig_to_c(self, store, val, ptr)
        if isinstance(val, (bytearray, memoryview)):
            val = bytes(val)
        if not isinstance(val, bytes):
            raise TypeError("expected bytes value")
        n = len(val)
        raw = ffi.wasmtime_component_vallist_t()
        ffi.wasmtime_component_vallist_new_uninit(raw, n)
        if n:
            buf = bytearray(n * size)
            buf[0::size] = bytes([kind_u8]) * n
            buf[8::size] = val
            ctypes.memmove(raw.data, bytes(buf), n * size)
        ptr.contents.kind = kind_list
        ptr.contents.of.list = raw

    def convert_from_c(self: Any, c: Any) -> Any:
        if not self._is_bytes():
            return orig_from_c(self, c)
        assert c.kind == kind_list.value
        try:
            n = c.of.list.size
            if n == 0:
                return b""
            return ctypes.string_at(c.of.list.data, n * size)[8::size]
        finally:
            ffi.wasmtime_component_vallist_delete(byref(c.of.list))

    ListType.convert_to_c = convert_to_c
    ListType.convert_from_c = convert_from_c
