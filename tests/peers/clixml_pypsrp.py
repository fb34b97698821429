"""Decode CLIXML documents with pypsrp's deserializer (an independent implementation) and
print a normalized JSON form, for tests/clixml_pypsrp/mod.rs to compare with ours.

stdin: a JSON list of CLIXML strings. stdout: a JSON list, one normalized value per document
(or {"error": "..."} when pypsrp raised). The normal form: primitives as JSON, bytes as base64,
a secure string as {"SS": text}, a generic object as {"T", "ToString", "Props", "MS", "sets"},
pypsrp's typed containers as {"LIST"}, {"QUE"}, {"DCT"}; an element pypsrp returns as its raw
XML text as {"raw": tag}. Elements named Zz* (unknown to CLIXML) are dropped wherever pypsrp
kept them, as our decoder skips them.
"""
import base64
import json
import queue
import sys
import uuid
import xml.etree.ElementTree as ET

from pypsrp.complex_objects import GenericComplexObject
from pypsrp.serializer import Serializer


def raw_tag(s):
    t = s[1:]
    for sep in (" ", ">", "/"):
        t = t.split(sep, 1)[0]
    return t


def is_unknown(v):
    return isinstance(v, dict) and v.get("raw", "").startswith("Zz")


def key(v):
    return json.dumps(v, sort_keys=True)


def norm(v):
    if v is None or isinstance(v, (bool, int, float)):
        return v
    if isinstance(v, str):
        return {"raw": raw_tag(v)} if v.startswith("<") else v
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, ET.Element):
        return {"SS": (v.text or "").strip()}
    if isinstance(v, queue.Queue):
        return {"QUE": [x for x in (norm(i) for i in list(v.queue)) if not is_unknown(x)]}
    if isinstance(v, list):
        return {"LIST": [x for x in (norm(i) for i in v) if not is_unknown(x)]}
    if isinstance(v, dict):
        entries = [[norm(k), norm(x)] for k, x in v.items()]
        return {"DCT": sorted(entries, key=key)}
    if isinstance(v, GenericComplexObject):
        def props(d):
            out = {}
            for k, x in d.items():
                x = norm(x)
                if not is_unknown(x):
                    out[k] = x
            return out

        sets = [x for x in (norm(i) for i in v.property_sets) if not is_unknown(x)]
        return {
            "T": list(v.types),
            "ToString": v.to_string,
            "Props": props(v.adapted_properties),
            "MS": props(v.extended_properties),
            "sets": sorted(sets, key=key),
        }
    return {"unexpected": type(v).__name__}


def main():
    docs = json.load(sys.stdin)
    out = []
    for d in docs:
        try:
            out.append(norm(Serializer().deserialize(d)))
        except Exception as e:  # reported, and the test fails on it
            out.append({"error": "%s: %s" % (type(e).__name__, e)})
    json.dump(out, sys.stdout)


main()
