"""Image factories for the tests: every image is made here, in memory, no binary fixtures.

Each helper returns encoded bytes (what an upload carries) unless it says otherwise.
Colours are chosen so that a test can tell them apart after lossy WebP encoding.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Sequence

from PIL import Image, ImageChops

RGB = tuple[int, int, int]

# Upright quadrant colours: top-left, top-right, bottom-left, bottom-right.
CORNERS: tuple[RGB, RGB, RGB, RGB] = ((255, 0, 0), (0, 200, 0), (0, 0, 255), (255, 255, 0))

# EXIF orientation -> the transpose that turns the *upright* image into the stored one
# (the inverse of what a viewer applies to display it).
_STORE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def encode(im: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def solid(size: tuple[int, int], colour: RGB = (120, 130, 140), fmt: str = "JPEG") -> bytes:
    return encode(Image.new("RGB", size, colour), fmt)


def gradient(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """A smooth image with structure in both directions (cheap to build at any size)."""
    w, h = size
    x = Image.linear_gradient("L").resize((w, h))
    y = Image.linear_gradient("L").rotate(90).resize((w, h))
    im = Image.merge("RGB", (x, y, ImageChops.invert(x)))
    return im.convert(mode)


def quadrants(size: tuple[int, int], colours: Sequence[RGB] = CORNERS) -> Image.Image:
    """An image whose four quadrants have the distinct ``colours`` (TL, TR, BL, BR)."""
    w, h = size
    im = Image.new("RGB", size)
    boxes = [
        (0, 0, w // 2, h // 2),
        (w // 2, 0, w, h // 2),
        (0, h // 2, w // 2, h),
        (w // 2, h // 2, w, h),
    ]
    for box, colour in zip(boxes, colours, strict=True):
        im.paste(colour, box)
    return im


def oriented_jpeg(orientation: int, upright: tuple[int, int] = (64, 40)) -> bytes:
    """A JPEG that shows the ``CORNERS`` quadrants upright once its EXIF orientation applies."""
    im = quadrants(upright)
    method = _STORE[orientation]
    stored = im.transpose(method) if method is not None else im
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(stored, "JPEG", quality=95, exif=exif.tobytes())


def png16_grey(value: int, size: tuple[int, int] = (40, 30)) -> bytes:
    """A 16-bit greyscale PNG of one value in 0..65535."""
    im = Image.new("I;16", size, value)
    data = encode(im, "PNG")
    assert data[24] == 16, "Pillow wrote something other than a 16-bit PNG"
    return data


def rgba_hard_edge(size: tuple[int, int] = (600, 40)) -> bytes:
    """Opaque white on the left half, fully transparent *black* on the right half.

    Black under the transparent half is the worst case: resizing without
    premultiplied alpha drags it into the semi-transparent edge as a dark fringe.
    """
    w, h = size
    im = Image.new("RGBA", size, (0, 0, 0, 0))
    im.paste((255, 255, 255, 255), (0, 0, w // 2, h))
    return encode(im, "PNG")


def palette_with_transparency(fmt: str = "PNG", size: tuple[int, int] = (60, 40)) -> bytes:
    """A palette image: left half opaque red (index 1), right half transparent (index 0)."""
    w, h = size
    im = Image.new("P", size, 0)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    im.paste(1, (0, 0, w // 2, h))
    return encode(im, fmt, transparency=0)


# -- CMYK -------------------------------------------------------------------------------

CMYK_WHITE = (0, 0, 0, 0)
CMYK_CYAN = (255, 0, 0, 0)
CMYK_BLACK = (0, 0, 0, 255)


def cmyk_image(size: tuple[int, int] = (60, 20)) -> Image.Image:
    """Three vertical bands: white, pure cyan, pure black (true CMYK values)."""
    w, h = size
    im = Image.new("CMYK", size, CMYK_WHITE)
    im.paste(CMYK_CYAN, (w // 3, 0, 2 * w // 3, h))
    im.paste(CMYK_BLACK, (2 * w // 3, 0, w, h))
    return im


def cmyk_jpeg(adobe: bool = True, size: tuple[int, int] = (60, 20)) -> bytes:
    """A CMYK JPEG, either as Photoshop writes it or as plain CMYK.

    ``adobe=True``: an APP14 "Adobe" marker and inverted samples (what Pillow,
    libjpeg and Photoshop write). ``adobe=False``: no Adobe marker and the samples
    stored as they are, as some other encoders write CMYK.
    """
    im = cmyk_image(size)
    if adobe:
        data = encode(im, "JPEG", quality=95)
        assert b"Adobe" in data
        return data
    # Pillow inverts CMYK on write; pre-inverting stores the true values.
    data = encode(ImageChops.invert(im), "JPEG", quality=95)
    return strip_jpeg_segments(data, lambda marker, body: marker == 0xEE)


def strip_jpeg_segments(data: bytes, drop: object) -> bytes:
    """Remove the marker segments before SOS for which ``drop(marker, body)`` is true."""
    assert data[:2] == b"\xff\xd8"
    out = bytearray(data[:2])
    pos = 2
    while pos < len(data):
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan: the rest is entropy-coded data
            out += data[pos:]
            break
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        segment = data[pos : pos + 2 + length]
        if not drop(marker, segment[4:]):  # type: ignore[operator]
            out += segment
        pos += 2 + length
    return bytes(out)


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """The (marker, body) segments of a JPEG up to its start of scan."""
    found: list[tuple[int, bytes]] = []
    strip_jpeg_segments(data, lambda marker, body: found.append((marker, body)) or False)
    return found


# -- animation ----------------------------------------------------------------------------

FRAME_COLOURS: tuple[RGB, ...] = ((255, 0, 0), (0, 160, 0), (0, 0, 255))
FRAME_DURATIONS: tuple[int, ...] = (100, 200, 300)


def animation(
    fmt: str,
    size: tuple[int, int] = (500, 300),
    colours: Sequence[RGB] = FRAME_COLOURS,
    durations: Sequence[int] = FRAME_DURATIONS,
    **params: object,
) -> bytes:
    """An animated GIF, WebP or PNG (APNG) of solid, distinct frames."""
    frames = [Image.new("RGB", size, c) for c in colours]
    if fmt == "GIF":
        frames = [f.convert("P", palette=Image.Palette.ADAPTIVE) for f in frames]
    return encode(
        frames[0],
        fmt,
        save_all=True,
        append_images=frames[1:],
        duration=list(durations),
        loop=0,
        **params,
    )


def mpo(size: tuple[int, int] = (80, 60)) -> bytes:
    """A multi-picture JPEG (a stereo pair): two frames, but not an animation."""
    left = Image.new("RGB", size, (200, 30, 30))
    right = Image.new("RGB", size, (30, 30, 200))
    return encode(left, "MPO", save_all=True, append_images=[right])


# -- metadata -----------------------------------------------------------------------------

XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
    b"<dc:creator>SECRET-XMP-AUTHOR</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>"
)
COMMENT = b"SECRET-COMMENT"


def exif_with_gps() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "SECRET-MAKE"  # Make
    exif[0x0131] = "SECRET-SOFTWARE"  # Software
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (53.0, 54.0, 0.0)
    gps[3] = "E"
    gps[4] = (27.0, 33.0, 0.0)
    return exif


def with_metadata(fmt: str, size: tuple[int, int] = (64, 48)) -> bytes:
    """An image in ``fmt`` carrying EXIF (with GPS), XMP, a comment and an ICC profile."""
    im = gradient(size)
    exif = exif_with_gps().tobytes()
    icc = icc_profile(ADOBE_RGB, gamma=563 / 256, description="Adobe RGB (1998)")
    if fmt == "JPEG":
        return encode(im, "JPEG", exif=exif, xmp=XMP, comment=COMMENT, icc_profile=icc)
    if fmt == "WEBP":
        return encode(im, "WEBP", exif=exif, xmp=XMP, icc_profile=icc)
    if fmt == "PNG":
        from PIL import PngImagePlugin

        text = PngImagePlugin.PngInfo()
        text.add_text("Comment", COMMENT.decode())
        text.add_itxt("XML:com.adobe.xmp", XMP.decode())
        return encode(im, "PNG", exif=exif, pnginfo=text, icc_profile=icc)
    if fmt == "GIF":
        return encode(im.convert("P"), "GIF", comment=COMMENT)
    raise ValueError(fmt)


# -- ICC profiles ---------------------------------------------------------------------------

Primaries = tuple[tuple[float, float], tuple[float, float], tuple[float, float]]
D65 = (0.3127, 0.3290)
D50_XYZ = (0.9642, 1.0, 0.8249)
DISPLAY_P3: Primaries = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))
ADOBE_RGB: Primaries = ((0.640, 0.330), (0.210, 0.710), (0.150, 0.060))
SRGB: Primaries = ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060))

_BRADFORD = ((0.8951, 0.2664, -0.1614), (-0.7502, 1.7135, 0.0367), (0.0389, -0.0685, 1.0296))


def _xyz(xy: tuple[float, float]) -> tuple[float, float, float]:
    x, y = xy
    return (x / y, 1.0, (1 - x - y) / y)


def _matmul(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]]) -> list[list[float]]:
    return [[sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)] for i in range(3)]


def _matvec(a: Sequence[Sequence[float]], v: Sequence[float]) -> list[float]:
    return [sum(a[i][k] * v[k] for k in range(3)) for i in range(3)]


def inverse(m: Sequence[Sequence[float]]) -> list[list[float]]:
    (a, b, c), (d, e, f), (g, h, i) = m
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    adj = [
        [e * i - f * h, c * h - b * i, b * f - c * e],
        [f * g - d * i, a * i - c * g, c * d - a * f],
        [d * h - e * g, b * g - a * h, a * e - b * d],
    ]
    return [[v / det for v in row] for row in adj]


def rgb_to_xyz_d50(primaries: Primaries, white: tuple[float, float] = D65) -> list[list[float]]:
    """The linear RGB -> XYZ (D50, Bradford-adapted) matrix an ICC matrix/TRC profile holds."""
    cols = [_xyz(p) for p in primaries]
    m = [[cols[j][i] for j in range(3)] for i in range(3)]
    s = _matvec(inverse(m), _xyz(white))
    m = [[m[i][j] * s[j] for j in range(3)] for i in range(3)]
    src = _matvec(_BRADFORD, _xyz(white))
    dst = _matvec(_BRADFORD, D50_XYZ)
    scale = [[dst[i] / src[i] if i == j else 0.0 for j in range(3)] for i in range(3)]
    adapt = _matmul(inverse(_BRADFORD), _matmul(scale, _BRADFORD))
    return _matmul(adapt, m)


def srgb_decode(v: float) -> float:
    return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4


def srgb_encode(v: float) -> float:
    v = min(max(v, 0.0), 1.0)
    return v * 12.92 if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055


def expected_srgb(rgb: RGB, primaries: Primaries, gamma: float | None) -> RGB:
    """What a colour-managed viewer shows, in 8-bit sRGB, for ``rgb`` in the given space.

    ``gamma=None`` means the sRGB transfer curve (as Display P3 uses). Computed here
    from first principles, independently of LittleCMS.
    """
    linear = [srgb_decode(c / 255) if gamma is None else (c / 255) ** gamma for c in rgb]
    xyz = _matvec(rgb_to_xyz_d50(primaries), linear)
    out = _matvec(inverse(rgb_to_xyz_d50(SRGB)), xyz)
    return tuple(round(255 * srgb_encode(c)) for c in out)  # type: ignore[return-value]


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _xyz_tag(xyz: Sequence[float]) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15(v) for v in xyz)


def _curve_tag(gamma: float | None) -> bytes:
    if gamma is not None:
        return b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256))
    table = [round(65535 * srgb_decode(i / 1023)) for i in range(1024)]
    return b"curv\0\0\0\0" + struct.pack(f">I{len(table)}H", len(table), *table)


def _desc_tag(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\0"
    return (
        b"desc\0\0\0\0"
        + struct.pack(">I", len(ascii_))
        + ascii_
        + struct.pack(">II", 0, 0)  # Unicode language code and count: none
        + struct.pack(">HB", 0, 0)  # ScriptCode code and count: none
        + b"\0" * 67
    )


def icc_profile(primaries: Primaries, gamma: float | None, description: str) -> bytes:
    """A display-class ICC v2 matrix/TRC RGB profile, built byte by byte.

    Colorants are adapted to D50 with Bradford, as the ICC requires; the white point
    tag holds D65 (the display's white), as Apple's and Adobe's v2 profiles do.
    """
    m = rgb_to_xyz_d50(primaries)
    curve = _curve_tag(gamma)
    tags = [
        (b"desc", _desc_tag(description)),
        (b"cprt", b"text\0\0\0\0No copyright, test profile\0"),
        (b"wtpt", _xyz_tag(_xyz(D65))),
        (b"rXYZ", _xyz_tag([m[i][0] for i in range(3)])),
        (b"gXYZ", _xyz_tag([m[i][1] for i in range(3)])),
        (b"bXYZ", _xyz_tag([m[i][2] for i in range(3)])),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table = struct.pack(">I", len(tags))
    body = b""
    seen: dict[bytes, int] = {}
    for sig, data in tags:
        if data not in seen:  # the three TRCs share one curve, as real profiles do
            while (offset + len(body)) % 4:
                body += b"\0"
            seen[data] = offset + len(body)
            body += data
        table += sig + struct.pack(">II", seen[data], len(data))
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + b"lcms"
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"APPL"
        + struct.pack(">I", 0)  # flags
        + b"\0" * 8  # device manufacturer and model
        + b"\0" * 8  # device attributes
        + struct.pack(">I", 0)  # rendering intent: perceptual
        + b"".join(_s15(v) for v in D50_XYZ)
        + b"test"
    )
    header += b"\0" * (128 - len(header))
    return header + table + body


def display_p3() -> bytes:
    return icc_profile(DISPLAY_P3, gamma=None, description="Display P3")


def adobe_rgb() -> bytes:
    return icc_profile(ADOBE_RGB, gamma=563 / 256, description="Adobe RGB (1998)")


def tagged(colour: RGB, icc: bytes, fmt: str = "PNG", size: tuple[int, int] = (32, 24)) -> bytes:
    """A flat image of ``colour`` carrying the ICC profile ``icc``."""
    params: dict[str, object] = {"icc_profile": icc}
    if fmt == "JPEG":
        params["quality"] = 100
        params["subsampling"] = 0
    return encode(Image.new("RGB", size, colour), fmt, **params)


# -- hostile and refused data -----------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A few hundred bytes of valid PNG whose header claims ``width`` x ``height`` pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = zlib.compress(b"\0" * (width + 1) * 4, 9)  # a few all-zero rows, then nothing
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", rows)
        + _png_chunk(b"IEND", b"")
    )


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: int(len(data) * keep)]


def random_bytes(n: int = 2048, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(n)


def tiff() -> bytes:
    return solid((8, 8), fmt="TIFF")


def bmp() -> bytes:
    return solid((8, 8), fmt="BMP")


def psd() -> bytes:
    """A PSD file header (signature, version 1, 3 channels, 8x8, 8 bits, RGB)."""
    return b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 8, 8, 8, 3) + b"\0" * 64


SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'
SVG_BARE = b'  <svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'


def heic() -> bytes:
    """The start of a HEIC file: an ``ftyp`` box with HEIF brands, then a stub ``meta``."""
    ftyp = b"ftypheic" + b"\0\0\0\0" + b"mif1heic"
    meta = b"\0\0\0\x10meta\0\0\0\0\0\0\0\0"
    return struct.pack(">I", 4 + len(ftyp)) + ftyp + meta


def avif(size: tuple[int, int] = (120, 80), colour: RGB = (40, 160, 90)) -> bytes:
    return encode(Image.new("RGB", size, colour), "AVIF", quality=90)


# -- reading outputs ------------------------------------------------------------------------


def riff_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The top-level chunks of a WebP file, as (fourcc, payload), parsed by hand."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP", "not a WebP file"
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8, "RIFF size is wrong"
    chunks: list[tuple[bytes, bytes]] = []
    pos = 12
    while pos < len(data):
        fourcc = data[pos : pos + 4]
        size = struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        chunks.append((fourcc, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return chunks


def frames_of(data: bytes) -> list[tuple[Image.Image, int]]:
    """Every frame of an image with its duration (WebP sets it only once a frame loads)."""
    im = Image.open(io.BytesIO(data))
    out = []
    for i in range(getattr(im, "n_frames", 1)):
        im.seek(i)
        im.load()
        out.append((im.convert("RGBA"), int(im.info.get("duration", 0))))
    return out


def near(actual: Sequence[int], expected: Sequence[int], tolerance: int) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def _gif_parts(data: bytes) -> tuple[bytes, bytes]:
    """(global colour table, LZW image data of the first frame) of a GIF Pillow wrote."""
    flags = data[10]
    gct_end = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    pos = gct_end
    while data[pos] == 0x21:  # extensions: skip their sub-blocks
        pos += 2
        while data[pos]:
            pos += 1 + data[pos]
        pos += 1
    assert data[pos] == 0x2C and not data[pos + 9] & 0x80  # a frame, no local colour table
    start = pos = pos + 10
    pos += 1  # LZW minimum code size
    while data[pos]:
        pos += 1 + data[pos]
    return data[13:gct_end], data[start : pos + 1]


def gif_growing_canvas(
    screen: tuple[int, int] = (1, 1), big: tuple[int, int] = (400, 400)
) -> bytes:
    """A GIF whose header claims a ``screen`` of a few pixels, but whose second frame is ``big``.

    Pillow grows the canvas when it reaches that frame, so the header alone
    understates the pixels to decode.
    """

    def frame(size: tuple[int, int]) -> tuple[bytes, bytes]:
        im = Image.new("P", size, 1)
        im.putpalette([0, 0, 0, 255, 0, 0])
        return _gif_parts(encode(im, "GIF"))

    gct, small_data = frame(screen)
    _, big_data = frame(big)
    lsd = struct.pack("<HHBBB", *screen, 0x80 | (len(gct) // 3).bit_length() - 2, 0, 0)
    out = b"GIF89a" + lsd + gct
    out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    for size, body in ((screen, small_data), (big, big_data)):
        out += b"\x21\xf9\x04\x00\x0a\x00\x00\x00"  # 100 ms
        out += b"\x2c" + struct.pack("<HHHHB", 0, 0, *size, 0) + body
    return out + b"\x3b"
