// The documented C# snippet's caller in tests/docs/test_doc_examples.py: compiled with it
// by Mono's mcs, it checks one request given on the command line and prints the verdict.
// Usage: mono check.exe SECRET WEBHOOK-ID WEBHOOK-TIMESTAMP WEBHOOK-SIGNATURE BODY-FILE NOW
using System;
using System.IO;

public static class SignatureCheck
{
    public static int Main(string[] args)
    {
        if (args.Length != 6)
        {
            Console.Error.WriteLine("usage: SECRET ID TIMESTAMP SIGNATURES BODY-FILE NOW");
            return 2;
        }
        var body = File.ReadAllBytes(args[4]);
        var now = long.Parse(args[5]);
        var accepted = WebhookSignature.Verify(args[0], args[1], args[2], args[3], body, now);
        Console.WriteLine(accepted ? "accepted" : "refused");
        return 0;
    }
}
