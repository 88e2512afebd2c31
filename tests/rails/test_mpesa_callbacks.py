"""The callback parsers as tables: Daraja's published sample bodies, and malformed ones."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import pytest

from soko.rails.mpesa import callbacks
from soko.rails.mpesa.callbacks import (
    NAIROBI,
    SAFARICOM_CALLBACK_NETWORKS,
    C2BRejection,
    CallbackMalformed,
    StkOutcome,
)

PAID: dict[str, Any] = {
    "Body": {
        "stkCallback": {
            "MerchantRequestID": "29115-34620561-1",
            "CheckoutRequestID": "ws_CO_191220191020363925",
            "ResultCode": 0,
            "ResultDesc": "The service request is processed successfully.",
            "CallbackMetadata": {
                "Item": [
                    {"Name": "Amount", "Value": 1.0},
                    {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"},
                    {"Name": "Balance"},
                    {"Name": "TransactionDate", "Value": 20191219102115},
                    {"Name": "PhoneNumber", "Value": 254708374149},
                ]
            },
        }
    }
}
CANCELLED: dict[str, Any] = {
    "Body": {
        "stkCallback": {
            "MerchantRequestID": "8555-67195-1",
            "CheckoutRequestID": "ws_CO_27072017151044001",
            "ResultCode": 1032,
            "ResultDesc": "[STK_CB - ]Request cancelled by user",
        }
    }
}
C2B: dict[str, Any] = {
    "TransactionType": "Pay Bill",
    "TransID": "RKTQDM7W6S",
    "TransTime": "20191122063845",
    "TransAmount": "10.00",
    "BusinessShortCode": "600638",
    "BillRefNumber": "invoice008",
    "InvoiceNumber": "",
    "OrgAccountBalance": "49197.00",
    "ThirdPartyTransID": "",
    "MSISDN": "2547 ***** 126",
    "FirstName": "John",
    "MiddleName": "",
    "LastName": "Doe",
}
B2C_PAID: dict[str, Any] = {
    "Result": {
        "ResultType": 0,
        "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.",
        "OriginatorConversationID": "10571-7910404-1",
        "ConversationID": "AG_20191219_00004e48cf7e3533f581",
        "TransactionID": "NLJ41HAY6Q",
        "ResultParameters": {
            "ResultParameter": [
                {"Key": "TransactionAmount", "Value": 10},
                {"Key": "TransactionReceipt", "Value": "NLJ41HAY6Q"},
                {"Key": "B2CRecipientIsRegisteredCustomer", "Value": "Y"},
                {"Key": "B2CChargesPaidAccountAvailableFunds", "Value": -4510.00},
                {"Key": "ReceiverPartyPublicName", "Value": "254708374149 - John Doe"},
                {"Key": "TransactionCompletedDateTime", "Value": "19.12.2019 11:45:50"},
                {"Key": "B2CUtilityAccountAvailableFunds", "Value": 10116.00},
                {"Key": "B2CWorkingAccountAvailableFunds", "Value": 900000.00},
            ]
        },
        "ReferenceData": {
            "ReferenceItem": {
                "Key": "QueueTimeoutURL",
                "Value": "https://internalsandbox.safaricom.co.ke/mpesa/b2cresults/v1/submit",
            }
        },
    }
}
B2C_FAILED: dict[str, Any] = {
    "Result": {
        "ResultType": 0,
        "ResultCode": 2001,
        "ResultDesc": "The initiator information is invalid.",
        "OriginatorConversationID": "29112-34801843-1",
        "ConversationID": "AG_20191219_00006c6fddb15123addf",
        "TransactionID": "NLJ0000000",
        "ReferenceData": {"ReferenceItem": {"Key": "QueueTimeoutURL", "Value": "https://x"}},
    }
}
STATUS: dict[str, Any] = {
    "Result": {
        "ResultType": 0,
        "ResultCode": 0,
        "ResultDesc": "The service request has been accepted successfully.",
        "OriginatorConversationID": "10816-694520-2",
        "ConversationID": "AG_20170727_000059c52529a8e080bd",
        "TransactionID": "LGR0000000",
        "ResultParameters": {
            "ResultParameter": [
                {"Key": "ReceiptNo", "Value": "LGR919G2AV"},
                {"Key": "Conversation ID", "Value": "AG_20170727_00004492b1b6d0078fbe"},
                {"Key": "FinalisedTime", "Value": 20170727101415},
                {"Key": "Amount", "Value": 10},
                {"Key": "TransactionStatus", "Value": "Completed"},
                {"Key": "ReasonType", "Value": "Salary Payment via API"},
                {"Key": "TransactionReason"},
                {"Key": "DebitPartyCharges", "Value": "Fee For B2C Payment|KES|33.00"},
                {"Key": "DebitAccountType", "Value": "Utility Account"},
                {"Key": "InitiatedTime", "Value": 20170727101415},
                {"Key": "Originator Conversation ID", "Value": "19455-773836-1"},
                {"Key": "CreditPartyName", "Value": "254708374149 - John Doe"},
                {"Key": "DebitPartyName", "Value": "600134 - Safaricom157"},
            ]
        },
        "ReferenceData": {"ReferenceItem": {"Key": "Occasion", "Value": "aaaa"}},
    }
}
REVERSAL: dict[str, Any] = {
    "Result": {
        "ResultType": 0,
        "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.",
        "OriginatorConversationID": "10819-695089-1",
        "ConversationID": "AG_20170727_00004efadacd98a01d15",
        "TransactionID": "LGR019G3J2",
        "ResultParameters": {
            "ResultParameter": [
                {"Key": "DebitAccountBalance", "Value": "Utility Account|KES|51661.00"},
                {"Key": "Amount", "Value": 100},
                {"Key": "TransCompletedTime", "Value": 20170727102524},
                {"Key": "OriginalTransactionID", "Value": "LGR919G2AV"},
                {"Key": "Charge", "Value": 0},
                {"Key": "CreditPartyPublicName", "Value": "254708374149 - John Doe"},
                {"Key": "DebitPartyPublicName", "Value": "600134 - Safaricom157"},
            ]
        },
    }
}


def changed(body: dict[str, Any], path: tuple[object, ...], value: object) -> dict[str, Any]:
    """A deep copy of `body` with the element at `path` set to `value` (or removed if ...)."""
    copied = copy.deepcopy(body)
    target: Any = copied
    for step in path[:-1]:
        target = target[step]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return copied


STK = ("Body", "stkCallback")
ITEMS = (*STK, "CallbackMetadata", "Item")
PARAMETERS = ("Result", "ResultParameters", "ResultParameter")


@pytest.mark.parametrize(
    ("value", "minor"),
    [
        (1, 100),
        (1.0, 100),
        ("100.00", 10_000),
        ("100", 10_000),
        ("7.0", 700),
        (250_000, 25_000_000),
    ],
)
def test_whole_shillings_become_minor_units(value: object, minor: int) -> None:
    assert callbacks.minor_from_whole_shillings(value) == minor


@pytest.mark.parametrize(
    "value",
    [
        1.5,
        "100.50",
        "100.001",
        "1e3",
        "-1",
        -1,
        0,
        "0.00",
        True,
        None,
        "",
        "abc",
        float("nan"),
        float("inf"),
        10**20,
        [],
        "1,000",
    ],
)
def test_anything_but_positive_whole_shillings_is_refused(value: object) -> None:
    with pytest.raises(CallbackMalformed):
        callbacks.minor_from_whole_shillings(value)


@pytest.mark.parametrize(
    ("value", "minor"),
    [(None, None), ("", None), ("49197.00", 4_919_700), (-4510.0, -451_000), (10116.5, 1_011_650)],
)
def test_balances_keep_cents(value: object, minor: int | None) -> None:
    assert callbacks.minor_from_balance(value) == minor


def test_a_paid_stk_callback() -> None:
    parsed = callbacks.parse_stk_callback(PAID)
    assert (parsed.outcome, parsed.result_code, parsed.checkout_request_id) == (
        StkOutcome.PAID,
        0,
        "ws_CO_191220191020363925",
    )
    assert parsed.payment == callbacks.StkPayment(
        amount_minor=100,
        receipt="NLJ7RT61SV",
        paid_at=datetime(2019, 12, 19, 10, 21, 15, tzinfo=NAIROBI),
        phone="254708374149",
    )


def test_a_cancelled_stk_callback_has_no_payment() -> None:
    parsed = callbacks.parse_stk_callback(CANCELLED)
    assert (parsed.outcome, parsed.payment) == (StkOutcome.CANCELLED, None)
    assert parsed.result_desc == "[STK_CB - ]Request cancelled by user"


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (0, StkOutcome.PAID),
        (1, StkOutcome.INSUFFICIENT_FUNDS),
        (1032, StkOutcome.CANCELLED),
        (1037, StkOutcome.UNREACHABLE),
        (1019, StkOutcome.EXPIRED),
        (2001, StkOutcome.WRONG_PIN),
        (1025, StkOutcome.FAILED),
        (17, StkOutcome.FAILED),
    ],
)
def test_stk_result_codes(code: int, outcome: StkOutcome) -> None:
    assert StkOutcome.from_result_code(code) is outcome


def test_a_single_item_may_come_as_a_bare_object() -> None:
    body = changed(CANCELLED, (*STK, "ResultCode"), 0)
    body["Body"]["stkCallback"]["CallbackMetadata"] = {"Item": {"Name": "Amount", "Value": 5}}
    with pytest.raises(CallbackMalformed, match="MpesaReceiptNumber"):
        callbacks.parse_stk_callback(body)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([], "body is not an object"),
        ({}, "Body is not an object"),
        ({"Body": {}}, "stkCallback is not an object"),
        (changed(PAID, (*STK, "ResultCode"), "zero"), "ResultCode"),
        (changed(PAID, (*STK, "ResultCode"), True), "ResultCode"),
        (changed(PAID, (*STK, "CheckoutRequestID"), ...), "CheckoutRequestID is missing"),
        (changed(PAID, (*STK, "MerchantRequestID"), ""), "MerchantRequestID is empty"),
        (changed(PAID, (*STK, "CallbackMetadata"), ...), "CallbackMetadata is not an object"),
        (changed(PAID, ITEMS, "items"), "Item is not a list"),
        (changed(PAID, (*ITEMS, 0, "Value"), 1.5), "Amount"),
        (changed(PAID, (*ITEMS, 0, "Value"), "100.50"), "Amount"),
        (changed(PAID, (*ITEMS, 0), ...), "no Amount"),
        (changed(PAID, (*ITEMS, 1, "Value"), ""), "no MpesaReceiptNumber"),
        (changed(PAID, (*ITEMS, 3, "Value"), 2019121910211), "TransactionDate"),
        (changed(PAID, (*ITEMS, 3, "Value"), 20191332102115), "TransactionDate"),
        (changed(PAID, (*ITEMS, 2, "Name"), "Amount"), "twice"),
        (changed(PAID, (*ITEMS, 4), "254708374149"), "an item"),
        (changed(PAID, (*STK, "ResultDesc"), "x" * 600), "longer"),
    ],
)
def test_malformed_stk_callbacks_are_refused(body: object, reason: str) -> None:
    with pytest.raises(CallbackMalformed, match=reason):
        callbacks.parse_stk_callback(body)


def test_a_c2b_confirmation() -> None:
    parsed = callbacks.parse_c2b_confirmation(C2B)
    assert (parsed.trans_id, parsed.amount_minor, parsed.bill_ref_number) == (
        "RKTQDM7W6S",
        1_000,
        "invoice008",
    )
    assert parsed.org_account_balance_minor == 4_919_700
    assert parsed.msisdn == "2547 ***** 126"
    assert parsed.trans_time == datetime(2019, 11, 22, 6, 38, 45, tzinfo=NAIROBI)
    validation = callbacks.parse_c2b_validation(changed(C2B, ("OrgAccountBalance",), ""))
    assert validation.org_account_balance_minor is None


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("TransAmount", "10.50", "TransAmount"),
        ("TransAmount", ..., "TransAmount"),
        ("TransID", ..., "TransID is missing"),
        ("TransTime", "2019-11-22", "TransTime"),
        ("MSISDN", "", "MSISDN is empty"),
        ("BusinessShortCode", ["600638"], "BusinessShortCode is not text"),
        ("OrgAccountBalance", "lots", "OrgAccountBalance"),
    ],
)
def test_malformed_c2b_bodies_are_refused(key: str, value: object, reason: str) -> None:
    with pytest.raises(CallbackMalformed, match=reason):
        callbacks.parse_c2b_confirmation(changed(C2B, (key,), value))


def test_acknowledgements_are_fresh_daraja_bodies() -> None:
    assert callbacks.acknowledgement() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    assert callbacks.validation_accepted() == {"ResultCode": "0", "ResultDesc": "Accepted"}
    codes = [callbacks.validation_rejected(r)["ResultCode"] for r in C2BRejection]
    assert codes[:3] == ["C2B00011", "C2B00012", "C2B00013"]
    callbacks.acknowledgement()["ResultCode"] = 1
    assert callbacks.acknowledgement()["ResultCode"] == 0


def test_a_paid_b2c_result() -> None:
    parsed = callbacks.parse_b2c_result(B2C_PAID)
    assert parsed.header.succeeded and parsed.header.transaction_id == "NLJ41HAY6Q"
    assert parsed.paid is not None
    assert (parsed.paid.amount_minor, parsed.paid.receipt) == (1_000, "NLJ41HAY6Q")
    assert parsed.paid.completed_at == datetime(2019, 12, 19, 11, 45, 50, tzinfo=NAIROBI)
    assert parsed.paid.utility_account_balance_minor == 1_011_600
    assert parsed.paid.recipient_is_registered is True


def test_a_failed_b2c_result_has_no_payment() -> None:
    parsed = callbacks.parse_b2c_result(B2C_FAILED)
    assert (parsed.header.result_code, parsed.paid) == ("2001", None)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"Result": "ok"}, "Result is not an object"),
        (changed(B2C_PAID, ("Result", "ResultParameters"), ...), "ResultParameters"),
        (changed(B2C_PAID, (*PARAMETERS, 0, "Value"), "8000.5"), "TransactionAmount"),
        (changed(B2C_PAID, (*PARAMETERS, 1, "Value"), "OTHER00000"), "differs"),
        (changed(B2C_PAID, (*PARAMETERS, 5, "Value"), "2019-12-19"), "TransactionCompleted"),
        (changed(B2C_PAID, ("Result", "OriginatorConversationID"), ...), "Originator"),
        (changed(B2C_PAID, ("Result", "ResultCode"), None), "ResultCode"),
    ],
)
def test_malformed_b2c_results_are_refused(body: object, reason: str) -> None:
    with pytest.raises(CallbackMalformed, match=reason):
        callbacks.parse_b2c_result(body)


def test_a_queue_timeout() -> None:
    body = changed(B2C_FAILED, ("Result", "ResultCode"), "SVC0403")
    parsed = callbacks.parse_queue_timeout(body)
    assert (parsed.originator_conversation_id, parsed.result_code) == (
        "29112-34801843-1",
        "SVC0403",
    )
    with pytest.raises(CallbackMalformed):
        callbacks.parse_queue_timeout({"Result": {"ResultCode": 1}})


def test_a_transaction_status_result() -> None:
    parsed = callbacks.parse_transaction_status_result(STATUS)
    assert parsed.found is not None
    assert (parsed.found.receipt, parsed.found.amount_minor, parsed.found.status) == (
        "LGR919G2AV",
        1_000,
        "Completed",
    )
    assert parsed.found.original_originator_conversation_id == "19455-773836-1"
    assert parsed.found.finalised_at == datetime(2017, 7, 27, 10, 14, 15, tzinfo=NAIROBI)
    with pytest.raises(CallbackMalformed, match="ReceiptNo"):
        callbacks.parse_transaction_status_result(changed(STATUS, (*PARAMETERS, 0), ...))


def test_a_reversal_result() -> None:
    parsed = callbacks.parse_reversal_result(REVERSAL)
    assert parsed.reversed is not None
    assert (parsed.reversed.original_transaction_id, parsed.reversed.amount_minor) == (
        "LGR919G2AV",
        10_000,
    )
    refused = changed(REVERSAL, ("Result", "ResultCode"), "R000001")
    assert callbacks.parse_reversal_result(refused).reversed is None
    with pytest.raises(CallbackMalformed, match="Amount"):
        callbacks.parse_reversal_result(changed(REVERSAL, (*PARAMETERS, 1, "Value"), 99.5))


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("196.201.214.200", True),
        ("196.201.212.69", True),
        ("196.201.214.201", False),
        ("10.0.0.1", False),
        ("::1", False),
        ("not-an-address", False),
    ],
)
def test_callback_sources(address: str, allowed: bool) -> None:
    assert callbacks.callback_source_allowed(address, SAFARICOM_CALLBACK_NETWORKS) is allowed


def test_callback_tokens_compare_exactly() -> None:
    assert callbacks.callback_token_matches("Token0123456789", "Token0123456789")
    assert not callbacks.callback_token_matches("Token012345678", "Token0123456789")
    assert not callbacks.callback_token_matches("", "Token0123456789")
