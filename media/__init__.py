"""The media side: aiortc peers that run in their own asyncio process, never in a web process."""
