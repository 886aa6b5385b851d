"""Evidence in a real browser: upload through the case page (file picker, then drag and
drop), see the file listed, preview it, and download it back byte for byte."""
import os
import re
import struct
import zlib
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import sign_in

pytestmark = pytest.mark.browser


def png(width: int, height: int) -> bytes:
    """A real PNG (red pixels), so the browser can decode the preview."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_upload_with_the_file_picker_and_download_it_back(page, world):
    data = b"%PDF-1.7\n" + os.urandom(200_000) + b"\n%%EOF\n"
    sign_in(page, world.consultant_a.email)
    page.goto(f"/cases/{world.case_a.id}")

    page.set_input_files("#evidence-files", files=[
        {"name": "supplier-invoice.pdf", "mimeType": "application/pdf", "buffer": data}])
    expect(page.locator(".evidence-chosen")).to_contain_text("supplier-invoice.pdf (195 KB)")
    page.select_option("#evidence-category", "invoice")
    page.fill("#evidence-description", "Invoice from Acme Wholesale for the 40 units sold")
    page.get_by_role("button", name="Upload", exact=True).click()

    expect(page.get_by_role("alert")).to_contain_text("Uploaded supplier-invoice.pdf.")
    item = page.locator(".evidence-list li", has_text="supplier-invoice.pdf")
    expect(item).to_contain_text("Invoice from Acme Wholesale")
    expect(item).to_contain_text("195 KB · PDF document · Carl Consultant")
    expect(page.locator("ul.timeline li[data-kind=evidence_added]")).to_contain_text(
        "Evidence added: supplier-invoice.pdf (Invoice)")

    with page.expect_download() as info:
        item.get_by_role("link", name="Download").click()
    download = info.value
    assert download.suggested_filename == "supplier-invoice.pdf"
    assert Path(download.path()).read_bytes() == data


def test_drop_an_image_see_its_preview_and_download_it(page, world):
    image = png(3, 2)
    sign_in(page, world.consultant_a.email)
    page.goto(f"/cases/{world.case_a.id}")

    dropped = page.evaluate_handle(
        """([name, bytes]) => {
             const transfer = new DataTransfer();
             transfer.items.add(new File([new Uint8Array(bytes)], name, {type: "image/png"}));
             return transfer;
           }""", ["listing-after-fix.png", list(image)])
    zone = page.locator(".evidence-dropzone")
    zone.dispatch_event("dragenter", {"dataTransfer": dropped})
    expect(zone).to_have_class(re.compile(r"\bborder-primary\b"))
    zone.dispatch_event("drop", {"dataTransfer": dropped})
    expect(zone).not_to_have_class(re.compile(r"\bborder-primary\b"))
    expect(page.locator(".evidence-chosen")).to_contain_text("listing-after-fix.png")
    page.select_option("#evidence-category", "screenshot")
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Uploaded listing-after-fix.png.")

    page.get_by_role("link", name="listing-after-fix.png").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("listing-after-fix.png")
    preview = page.get_by_role("img", name="Preview of listing-after-fix.png")
    expect(preview).to_be_visible()
    # Decoded despite the sandbox headers on the preview response.
    assert preview.evaluate("img => img.complete && img.naturalWidth") == 3

    with page.expect_download() as info:
        page.locator("#evidence-download").click()
    assert Path(info.value.path()).read_bytes() == image
