"""Connecting to Temporal with the data converter every claimflow process must share."""

import re

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from claimflow.settings import Settings


class TemporalUnreachable(Exception):
    """Temporal cannot be reached at the configured address; the message says why in one line."""


async def connect(settings: Settings) -> Client:
    address = settings.temporal_address
    try:
        return await Client.connect(
            address, namespace=settings.temporal_namespace, data_converter=pydantic_data_converter
        )
    except ValueError as err:
        raise TemporalUnreachable(f"TEMPORAL_ADDRESS {address!r} is not a valid address: {err}") from None
    except RuntimeError as err:
        reason = re.findall(r'message: "([^"]+)"', str(err))
        raise TemporalUnreachable(
            f"cannot reach Temporal at {address}: {reason[-1] if reason else err}; "
            "is `claims dev` running, or TEMPORAL_ADDRESS set?"
        ) from None
