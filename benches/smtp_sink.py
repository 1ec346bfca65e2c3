"""A discarding SMTP server for the mail delivery benchmark (Python 3.11's smtpd; loopback only).
Usage: python3 benches/smtp_sink.py PORT  -- prints the number of messages received on SIGTERM."""
import asyncore
import signal
import smtpd
import sys
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)


class Sink(smtpd.SMTPServer):
    count = 0

    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        Sink.count += 1


def stop(*_):
    print(f"received {Sink.count}", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
Sink(("127.0.0.1", int(sys.argv[1])), None, decode_data=False)
asyncore.loop()
