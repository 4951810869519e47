using System.Text;
using InfraMind.Node.Crypto;
using InfraMind.Node.Crypto.Eip712;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Crypto;

public class KeccakTests
{
    [Fact]
    public void Appending_in_pieces_gives_the_one_shot_hash_at_every_split_point()
    {
        byte[] input = CryptoVectors.Pattern(3 * Keccak256.RateBytes + 7);
        Hash32 expected = Keccak256.Hash(input);
        for (int split = 0; split <= input.Length; split++)
        {
            var keccak = default(Keccak256);
            keccak.Append(input.AsSpan(0, split));
            keccak.Append(input.AsSpan(split));
            Hash32 actual = default;
            keccak.Finish(actual);
            Assert.True(expected == actual, $"split at {split}");
        }
    }

    [Fact]
    public void Byte_by_byte_appends_give_the_one_shot_hash()
    {
        byte[] input = CryptoVectors.Pattern(2 * Keccak256.RateBytes + 1);
        var keccak = default(Keccak256);
        foreach (byte b in input)
            keccak.Append([b]);
        Hash32 actual = default;
        keccak.Finish(actual);
        Assert.Equal(Keccak256.Hash(input), actual);
    }

    [Fact]
    public void It_is_keccak_not_sha3()
    {
        // SHA3-256("") is a7ffc6f8...; Ethereum's keccak256("") is c5d24601...
        Assert.Equal("0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470", Keccak256.Hash([]).ToString());
    }

    [Fact]
    public void A_short_output_buffer_is_refused()
    {
        Assert.Throws<ArgumentException>(() => Keccak256.Hash([1, 2, 3], new byte[31]));
    }

    /// <summary>
    /// The allocation budget of the hot paths: hashing and EIP-712 digests allocate nothing. Counted in bytes
    /// on this thread (the fewest of a few windows: see <see cref="AllocationBudget"/>), so it is independent of timing.
    /// </summary>
    [Fact]
    public void Keccak_and_eip712_hashing_allocate_nothing()
    {
        byte[] input = CryptoVectors.Pattern(1 << 16);
        byte[] output = new byte[32];
        var domain = new Eip712Domain(NodeConfigDefaults.ChainId);
        var job = new JobStruct("a6b4-23fa", "QmWx9aLz3kVn8rT2pQe5sJ7yHdF4gBc6mN1oUxR9vKtZwE", "ipfs://QmWx9aLz3kVn8rT2pQe5sJ7yHdF4gBc6mN1oUxR9vKtZwE",
            "serve.py", "text", "embedding<float>", Keccak256.Hash(Encoding.UTF8.GetBytes("hello")), 1719450000, default);
        string unicode = string.Concat(Enumerable.Repeat("推理🚀é", 50));

        void Work()
        {
            Keccak256.Hash(input, output);
            Keccak256.Hash(input.AsSpan(0, 32), output);
            _ = domain.Digest(job);
            var hasher = new StructHasher(SignedTypes.Rejection);
            hasher.AddString(unicode);
            _ = hasher.Finish();
        }

        for (int i = 0; i < 50; i++)
            Work(); // let tiering and static initialisation happen first
        long allocated = AllocationBudget.Fewest(200, Work);
        Assert.True(allocated == 0, $"keccak/EIP-712 hashing allocated {allocated} bytes over 200 rounds; the budget is 0");
    }

    private static class NodeConfigDefaults
    {
        public const ulong ChainId = InfraMind.Node.Configuration.NodeConfig.DefaultChainId;
    }
}
