"""Just enough of protobuf's wire format to read a pprof profile, for
both tiers of tests."""


def protobuf(data):
    """[(field, value)] of a protobuf message: an int for a varint, bytes
    for a length-delimited field, the only wire types a pprof writer
    needs."""
    fields, i = [], 0

    def varint():
        nonlocal i
        v = shift = 0
        while True:
            b = data[i]
            i += 1
            v |= (b & 0x7f) << shift
            shift += 7
            if b < 0x80:
                return v

    while i < len(data):
        key = varint()
        if key & 7 == 0:
            fields.append((key >> 3, varint()))
        elif key & 7 == 2:
            n = varint()
            fields.append((key >> 3, data[i:i + n]))
            i += n
        else:
            raise ValueError(f"protobuf wire type {key & 7}")
    return fields


def varints(data):
    """The values of a packed repeated varint field."""
    out, v, shift = [], 0, 0
    for b in data:
        v |= (b & 0x7f) << shift
        shift += 7
        if b < 0x80:
            out.append(v)
            v = shift = 0
    return out
